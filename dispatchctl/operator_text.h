// What makes dispatchctl's tables and live lines readable in a control room: run ids in the
// order a person counts them (RUN-3 before RUN-12), times in the operator's own zone, and an
// ETA said as "in 4 min" or "12 min late" rather than as a timestamp.
//
//   std::sort(ids.begin(), ids.end(), NaturalLess);
//   std::cout << WallClockText(alert.event_time(), TimeZoneChoice::kLocal);  // "2026-12-07
//   01:04:05 CET" std::cout << EtaText(vehicle, fleet.as_of());                            // "in 4
//   min"
//
// Thread contract: free functions; WallClockText reads the process time zone (TZ) through
// localtime_r, which is thread-safe.
#ifndef CIT_DISPATCHCTL_OPERATOR_TEXT_H_
#define CIT_DISPATCHCTL_OPERATOR_TEXT_H_

#include <google/protobuf/timestamp.pb.h>

#include <string>
#include <string_view>

#include "cit/v1/dispatch.pb.h"

namespace cit::ctl {

// Digit runs compare as numbers ("RUN-3" < "RUN-12"; "S2" < "S10"), everything else byte by
// byte; equal numbers with different leading zeros fall back to the text so the order is total.
bool NaturalLess(std::string_view a, std::string_view b);

enum class TimeZoneChoice { kLocal, kUtc };

// "2026-12-07 01:04:05 CET" in the local zone (TZ, else /etc/localtime), or RFC 3339 UTC
// ("2026-12-07T00:04:05Z") with kUtc; "-" when unset.
std::string WallClockText(const google::protobuf::Timestamp& t, TimeZoneChoice zone);

// The next stop's ETA relative to `now`: "in 4 min", "due now", "12 min late" (after the stop's
// arrival window closes, or the ETA is past it), "late" when late without a window to count
// from; "-" without a next stop or an ETA.
std::string EtaText(const cit::v1::VehicleState& vehicle, const google::protobuf::Timestamp& now);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_OPERATOR_TEXT_H_
