// What the track parsers (track_formats.h) share: times, numbers, positions, the fix list that
// keeps time order and the size bound, and error text naming "source:line".
//
// Thread contract: free functions and a plain value type.
#ifndef CIT_DISPATCHCTL_TRACK_COMMON_H_
#define CIT_DISPATCHCTL_TRACK_COMMON_H_

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "dispatchctl/track_formats.h"

namespace cit::ctl::internal {

// Text of the arguments streamed one after the other. Debian's Abseil has its own string_view
// type (not std::string_view), so absl::StrCat and absl::StrSplit do not take the
// std::string_view these parsers pass around.
template <typename... Args>
std::string Cat(const Args&... args) {
  std::ostringstream out;
  out.precision(10);
  (out << ... << args);
  return out.str();
}
// Pieces of `text` between `sep` (empty pieces kept; the last piece may be empty).
std::vector<std::string_view> Split(std::string_view text, char sep);
// Without leading/trailing spaces, tabs, CR and LF.
std::string_view Strip(std::string_view text);
std::string_view StripTrailing(std::string_view text);

// "source:line: what".
inline absl::Status LineError(std::string_view source, std::size_t line, std::string_view what) {
  return absl::InvalidArgumentError(Cat(source, ":", line, ": ", what));
}

// RFC 3339 ("2026-11-29T08:00:00Z", "...08:00:00.250+01:00"; a space for the 'T' too) to Unix
// milliseconds; nullopt when not a time or outside 1970..9999.
std::optional<int64_t> ParseRfc3339Ms(std::string_view text);
// RFC 3339, or Unix seconds ("1764403200", "1764403200.5").
std::optional<int64_t> ParseTimeMs(std::string_view text);
// A whole-field decimal number (no trailing garbage), finite.
std::optional<double> ParseNumber(std::string_view text);
// Empty when in range, else what is wrong ("latitude 91 is outside [-90, 90]").
std::string PositionProblem(double lat_deg, double lon_deg);

// Collects fixes: refuses a time going backwards, drops a repeated time (a receiver's second
// sentence of one cycle), and refuses more than kMaxTrackFixes.
class FixList {
 public:
  // `where` prefixes errors ("drive.csv:7").
  absl::Status Add(const TrackFix& fix, std::string_view where);
  absl::StatusOr<std::vector<TrackFix>> Finish(std::string_view source) &&;

 private:
  std::vector<TrackFix> fixes_;
};

// Line number (1-based) of byte `offset` in `text`.
std::size_t LineOf(std::string_view text, std::size_t offset);

}  // namespace cit::ctl::internal

#endif  // CIT_DISPATCHCTL_TRACK_COMMON_H_
