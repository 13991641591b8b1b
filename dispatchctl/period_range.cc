#include "dispatchctl/period_range.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "absl/time/time.h"

namespace cit::ctl {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr std::size_t kMaxVehicles = 10000;

// The instant `text` starts, and the instant its month/day ends (== start for an exact time).
struct Bounds {
  Timestamp start;
  Timestamp end;
};

bool ParseUtc(std::string_view format, std::string_view text, absl::Time* t) {
  std::string err;
  return absl::ParseTime(std::string(format), std::string(text), absl::UTCTimeZone(), t, &err);
}

absl::StatusOr<Bounds> ParseBound(std::string_view option, std::string_view text) {
  Bounds b;
  absl::Time t;
  if (text.size() == 7 && ParseUtc("%Y-%m", text, &t)) {
    const absl::CivilMonth month = absl::ToCivilMonth(t, absl::UTCTimeZone());
    b.start.set_seconds(absl::ToUnixSeconds(absl::FromCivil(month, absl::UTCTimeZone())));
    b.end.set_seconds(absl::ToUnixSeconds(absl::FromCivil(month + 1, absl::UTCTimeZone())));
    return b;
  }
  if (text.size() == 10 && ParseUtc("%Y-%m-%d", text, &t)) {
    b.start.set_seconds(absl::ToUnixSeconds(t));
    b.end.set_seconds(absl::ToUnixSeconds(t) + 86400);
    return b;
  }
  if (text.size() < 64 && TimeUtil::FromString(std::string(text), &b.start)) {
    b.end = b.start;
    return b;
  }
  return absl::InvalidArgumentError(
      fmt::format("{}: '{}' is not a month (2026-11), a day (2026-11-03) or an RFC 3339 time "
                  "(2026-11-03T08:00:00Z); months and days are UTC",
                  option, text));
}

bool Ok(unsigned char c) { return c > 0x20 && c != 0x7f; }

bool Space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && Space(s.front())) s.remove_prefix(1);
  while (!s.empty() && Space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

absl::StatusOr<Period> ParsePeriod(std::string_view from, std::string_view to) {
  if (from.empty()) return absl::InvalidArgumentError("--from: required, e.g. --from 2026-11");
  if (to.empty()) {
    return absl::InvalidArgumentError(
        "--to: required, e.g. --to 2026-11 (the end of that month) or --to 2026-11-30");
  }
  absl::StatusOr<Bounds> f = ParseBound("--from", from);
  if (!f.ok()) return f.status();
  absl::StatusOr<Bounds> t = ParseBound("--to", to);
  if (!t.ok()) return t.status();
  Period p{f->start, t->end};
  if (!(p.from < p.to)) {
    return absl::InvalidArgumentError(
        fmt::format("--to: the period ends ({}) before it starts ({}); give --to the same as or "
                    "later than --from",
                    TimeUtil::ToString(p.to), TimeUtil::ToString(p.from)));
  }
  return p;
}

absl::StatusOr<std::vector<std::string>> ParseVehicleList(std::string_view text) {
  std::vector<std::string> ids;
  int line_no = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    for (unsigned char c : line) {
      if (!Ok(c)) {
        return absl::InvalidArgumentError(fmt::format(
            "group file line {}: a vehicle id has a space or control character; put one id on "
            "each line",
            line_no));
      }
    }
    if (ids.size() == kMaxVehicles) {
      return absl::InvalidArgumentError(
          fmt::format("group file: more than {} vehicles; split the group", kMaxVehicles));
    }
    ids.emplace_back(line);
  }
  return ids;
}

}  // namespace cit::ctl
