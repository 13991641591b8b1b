#include "dispatch-server/audit/track_page_token.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "absl/status/status.h"

namespace cit::dispatch {
namespace {

constexpr std::size_t kMaxTokenBytes = 80;

absl::Status Bad(std::string_view why) {
  return absl::InvalidArgumentError(
      fmt::format("page_token: {}; pass the next_page_token of the previous answer unchanged, "
                  "or none to start at the beginning",
                  why));
}

// Digits only (SimpleAtoi also takes '+' and surrounding blanks), so a token has one spelling.
bool Digits(std::string_view s, bool may_be_negative) {
  if (may_be_negative && !s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s.front() == '0') return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

template <typename T>
bool Parse(std::string_view s, bool may_be_negative, T* out) {
  if (!Digits(s, may_be_negative)) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const std::size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

}  // namespace

std::string EncodeTrackPageToken(const TrackPageToken& token) {
  return fmt::format("p1.{}.{}.{}", token.after.event_time_ns, token.after.seq,
                     token.max_chain_index);
}

absl::StatusOr<TrackPageToken> DecodeTrackPageToken(std::string_view text) {
  if (text.size() > kMaxTokenBytes) return Bad("too long");
  std::vector<std::string_view> parts = Split(text, '.');
  if (parts.size() != 4 || parts[0] != "p1") return Bad("not a GetTrack page token");
  TrackPageToken t;
  if (!Parse(parts[1], true, &t.after.event_time_ns)) {
    return Bad("bad position");
  }
  if (!Parse(parts[2], false, &t.after.seq) || t.after.seq == 0) {
    return Bad("bad sequence number");
  }
  if (!Parse(parts[3], false, &t.max_chain_index)) {
    return Bad("bad chain length");
  }
  if (parts[1] == "-0") return Bad("bad position");
  return t;
}

}  // namespace cit::dispatch
