#include "dispatch-server/alerts/watch_cursor.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace cit::dispatch {
namespace {

constexpr char kVersion[] = "w1";

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("resume_token: ", why,
                   "; send a token exactly as an AlertEvent carried it, or none to start afresh"));
}

}  // namespace

bool WatchCursor::Seen(uint64_t event_id) const {
  for (const auto& [first, last] : seen) {
    if (event_id >= first && event_id <= last) return true;
  }
  return false;
}

void WatchCursor::AddSeen(uint64_t first, uint64_t last) {
  if (first > last) return;
  seen.emplace_back(first, last);
  std::sort(seen.begin(), seen.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto& r : seen) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  if (merged.size() > kMaxRanges) merged.erase(merged.begin(), merged.end() - kMaxRanges);
  seen = std::move(merged);
}

std::string WatchCursor::Encode() const {
  std::string out = absl::StrCat(kVersion, ".", log_through);
  for (const auto& [first, last] : seen) absl::StrAppend(&out, ".", first, "-", last);
  return out;
}

absl::StatusOr<WatchCursor> WatchCursor::Decode(const std::string& token) {
  if (token.size() > kMaxTokenBytes) return Malformed("longer than 1024 bytes");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() < 2 || parts[0] != kVersion) return Malformed("not a token of this server");
  if (parts.size() - 2 > kMaxRanges) return Malformed("too many ranges");
  WatchCursor c;
  if (!absl::SimpleAtoi(parts[1], &c.log_through)) return Malformed("bad log position");
  for (size_t i = 2; i < parts.size(); ++i) {
    std::vector<absl::string_view> r = absl::StrSplit(parts[i], '-');
    uint64_t first = 0;
    uint64_t last = 0;
    if (r.size() != 2 || !absl::SimpleAtoi(r[0], &first) || !absl::SimpleAtoi(r[1], &last) ||
        first == 0 || first > last) {
      return Malformed("bad id range");
    }
    c.AddSeen(first, last);
  }
  return c;
}

}  // namespace cit::dispatch
