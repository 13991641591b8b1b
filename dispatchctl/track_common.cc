#include "dispatchctl/track_common.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/time/time.h"

namespace cit::ctl::internal {
namespace {

constexpr int64_t kMaxUnixSeconds = int64_t{253'402'300'799};  // 9999-12-31T23:59:59Z

std::optional<int64_t> InRange(int64_t ms) {
  if (ms < 0 || ms > kMaxUnixSeconds * 1000) return std::nullopt;
  return ms;
}

}  // namespace

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

namespace {
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
}  // namespace

std::string_view StripTrailing(std::string_view text) {
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

std::string_view Strip(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  return StripTrailing(text);
}

std::optional<int64_t> ParseRfc3339Ms(std::string_view text) {
  std::string s(text);
  if (s.size() > 10 && s[10] == ' ') s[10] = 'T';  // "2026-11-29 08:00:00Z" as some tools write
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return std::nullopt;
  if (t < absl::UnixEpoch() || t > absl::FromUnixSeconds(kMaxUnixSeconds)) return std::nullopt;
  return InRange(absl::ToUnixMillis(t));
}

std::optional<double> ParseNumber(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> ParseTimeMs(std::string_view text) {
  if (std::optional<double> secs = ParseNumber(text)) {
    if (*secs < 0 || *secs > static_cast<double>(kMaxUnixSeconds)) return std::nullopt;
    return InRange(static_cast<int64_t>(std::llround(*secs * 1000)));
  }
  return ParseRfc3339Ms(text);
}

std::string PositionProblem(double lat_deg, double lon_deg) {
  if (!std::isfinite(lat_deg) || lat_deg < -90 || lat_deg > 90) {
    return Cat("latitude ", lat_deg, " is outside [-90, 90]");
  }
  if (!std::isfinite(lon_deg) || lon_deg < -180 || lon_deg > 180) {
    return Cat("longitude ", lon_deg, " is outside [-180, 180]");
  }
  return "";
}

absl::Status FixList::Add(const TrackFix& fix, std::string_view where) {
  if (!fixes_.empty()) {
    const int64_t last = fixes_.back().time_unix_ms;
    if (fix.time_unix_ms == last) return absl::OkStatus();
    if (fix.time_unix_ms < last) {
      return absl::InvalidArgumentError(
          Cat(where, ": time goes back ", (last - fix.time_unix_ms) / 1000.0,
              " s; a track must be in time order (sort it, or split it where the "
              "receiver's clock jumped)"));
    }
  }
  if (fixes_.size() == kMaxTrackFixes) {
    return absl::InvalidArgumentError(
        Cat(where, ": more than ", kMaxTrackFixes,
            " fixes (a day at 1 Hz is 86,400); split the track or thin it"));
  }
  fixes_.push_back(fix);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TrackFix>> FixList::Finish(std::string_view source) && {
  if (fixes_.empty()) {
    return absl::InvalidArgumentError(Cat(source, ": no fixes with a time found"));
  }
  return std::move(fixes_);
}

std::size_t LineOf(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

}  // namespace cit::ctl::internal
