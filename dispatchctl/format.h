// Human and machine renderings of operator API messages for dispatchctl's output.
//
//   std::cout << FormatReport(report);                 // `audit report`
//   std::cout << FormatAlertEvent(event, {.color = true}) << "\n";   // `watch`
//   std::cout << AlertEventJson(event) << "\n";         // `watch --json`: one object per line
//
// Times print as RFC 3339 UTC; distances in metres/kilometres; durations in seconds/minutes.
//
// Thread contract: free functions, no shared state.
#ifndef CIT_DISPATCHCTL_FORMAT_H_
#define CIT_DISPATCHCTL_FORMAT_H_

#include <google/protobuf/message.h>

#include <functional>
#include <string>

#include "cit/v1/dispatch.pb.h"
#include "dispatchctl/operator_text.h"

namespace cit::ctl {

std::string FormatTime(const google::protobuf::Timestamp& t);  // "-" when unset
std::string KindName(cit::v1::AlertKind kind);                 // "ROUTE_DEVIATION"
std::string SeverityName(cit::v1::Severity severity);          // "CRITICAL"
std::string AlertStateName(cit::v1::AlertState state);         // "ACKNOWLEDGED"
std::string RunStateName(cit::v1::RunState state);             // "DISPATCHED"
std::string StopStatusName(cit::v1::StopStatus status);        // "DEPARTED"

// Where an alert happened in its run's terms ("470 m from S1 Depot Zurich, 0.4 of 2.0 km along
// the route"; PlaceFinder::Describe, alert_place.h), or "" when unknown.
using PlaceNote = std::function<std::string(const cit::v1::Alert&)>;

// How an alert line looks: `watch` adds the place; both it and `ack` use the --utc choice.
struct AlertLineStyle {
  bool color = false;  // ANSI colours by severity
  TimeZoneChoice zone = TimeZoneChoice::kUtc;
  // "at 47.370120,8.501230" where the alert's position is known, followed by the place note in
  // parentheses when `place_note` gives one.
  bool place = false;
  PlaceNote place_note = nullptr;
};
// One line per alert event.
std::string FormatAlertEvent(const cit::v1::AlertEvent& event, const AlertLineStyle& style);
std::string FormatAlert(const cit::v1::Alert& alert, const AlertLineStyle& style);
// `alerts list`: one row per alert, ids in order. PLACE is the place note, else the position
// ("47.37012,8.50123"), else "-".
std::string FormatAlertTable(const cit::v1::ListAlertsResponse& alerts, TimeZoneChoice zone,
                             const PlaceNote& place_note = nullptr);
// `alerts history`: the alert, then one row per event in order (time, what, by whom, severity,
// what it said: an escalation step's targets and severity raise, an operator's comment).
std::string FormatAlertHistory(const cit::v1::ListAlertEventsResponse& history,
                               TimeZoneChoice zone);
// Proto3 JSON on one line, proto field names.
std::string ToJsonLine(const google::protobuf::Message& message);

std::string FormatRun(const cit::v1::Run& run);
std::string FormatRunTable(const cit::v1::ListRunsResponse& runs);
// Vehicles in natural order (CIT-2 before CIT-10), with GNSS and link state, open alerts by
// severity and the ETA as "in 4 min" / "12 min late" against fleet.as_of().
std::string FormatFleet(const cit::v1::Fleet& fleet);
// One line per vehicle update of `fleet --watch`.
std::string FormatVehicleLine(const cit::v1::VehicleState& v);
std::string FormatReport(const cit::v1::RunReport& report);
// `audit verify`: the verdict first (naming the first broken entry), then one row per chain.
std::string FormatVerify(const cit::v1::VerifyChainResponse& verify);
// `plan show`: the creator and every later change from the plan log, with plan differences.
std::string FormatRunHistory(const cit::v1::RunHistory& history);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_FORMAT_H_
