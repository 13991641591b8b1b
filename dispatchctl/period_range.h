// `dispatchctl report --from --to`: the period's bounds and the vehicle group, read from what a
// person types.
//
//   absl::StatusOr<Period> p = ParsePeriod("2026-11", "2026-11");    // all of November (UTC)
//   absl::StatusOr<Period> q = ParsePeriod("2026-11-03", "2026-11-09T12:00:00Z");
//   absl::StatusOr<std::vector<std::string>> g = ParseVehicleList(file_text);
//
// --from takes the start of a month (YYYY-MM), a day (YYYY-MM-DD) or an RFC 3339 time; --to
// takes the same and means the END of that month or day (so "--from 2026-11 --to 2026-11" is
// the month), or the exact time. Months and days are UTC.
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCHCTL_PERIOD_RANGE_H_
#define CIT_DISPATCHCTL_PERIOD_RANGE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"

namespace cit::ctl {

// [from, to)
struct Period {
  google::protobuf::Timestamp from;
  google::protobuf::Timestamp to;
};

// INVALID_ARGUMENT saying which option is wrong and what it accepts; to must be after from.
absl::StatusOr<Period> ParsePeriod(std::string_view from, std::string_view to);

// A group file: one vehicle id per line; blank lines and lines starting with '#' are skipped,
// spaces around an id trimmed. INVALID_ARGUMENT (with the line number) for an id with spaces or
// control characters, or more than 10,000 ids.
absl::StatusOr<std::vector<std::string>> ParseVehicleList(std::string_view text);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_PERIOD_RANGE_H_
