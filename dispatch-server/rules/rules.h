// The alert rules of DESIGN §6, one implementation file per rule (rules/<kind>_rule.cc), each a
// set of hooks the monitor calls in event time for one vehicle:
//   OnFix       every usable fix, after the monitor updated motion, corridor match and stop zone
//   OnArrived/OnDeparted  stop state machine transitions
//   OnDeadline  a clock deadline the rule scheduled (fires without any record)
//   On<Input>   door, seal, panic, crew, GNSS status records
// Thresholds come from VehicleState::limits (the run's RunLimits, defaults without a run).
// Each rule keeps its own state block in VehicleState and reports through an AlertSink; it
// raises once when its condition starts (again only to escalate), and clears once.
//
//   RouteDeviationRule::OnFix(vehicle, fix, policy.deviation, sink);
//
// Thread contract: called only from the monitor thread.
#ifndef CIT_DISPATCH_SERVER_RULES_RULES_H_
#define CIT_DISPATCH_SERVER_RULES_RULES_H_

#include <string>

#include "cit/v1/telemetry.pb.h"
#include "dispatch-server/alerts/alert_signal.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/rules/rule_policy.h"
#include "dispatch-server/rules/vehicle_state.h"

namespace cit::dispatch {

// Where clock-driven rules schedule their deadlines (the monitor's timer wheel).
class DeadlineScheduler {
 public:
  virtual ~DeadlineScheduler() = default;
  virtual void Schedule(VehicleState& v, TimerTag tag, SysTime deadline) = 0;
  virtual SysTime Now() const = 0;
};

// ROUTE_DEVIATION: distance to the centre-line minus eph beyond the half-width for
// deviation_min_fixes fixes and deviation_min_s; escalates at each step of `policy` the
// distance crosses; clears after deviation_clear_fixes fixes inside.
struct RouteDeviationRule {
  static void OnFix(VehicleState& v, const FixContext& f, const DeviationPolicy& policy,
                    AlertSink& sink);
};

// WRONG_DIRECTION: once the run is under way, progress goes back more than
// backwards_tolerance_m (+ eph) for 2 fixes that continue the track (route_progress.h).
struct WrongDirectionRule {
  static void OnFix(VehicleState& v, const FixContext& f, AlertSink& sink);
};

// OUT_OF_ORDER_STOP: arrival at a stop while an earlier one is still pending.
struct OutOfOrderStopRule {
  static void OnArrived(VehicleState& v, int stop, const FixContext& f, AlertSink& sink);
};

// UNSCHEDULED_STOP: stopped >= unscheduled_stop_s outside every stop zone during a run.
struct UnscheduledStopRule {
  static void OnFix(VehicleState& v, const FixContext& f, AlertSink& sink);
};

// DOOR_OPEN_OUTSIDE_STOP: a door opens outside an authorising stop zone or outside its window.
struct DoorOpenOutsideStopRule {
  static void OnDoor(VehicleState& v, const cit::v1::Record& r, AlertSink& sink);
};

// SEAL_BROKEN: a seal reports broken except inside a stop that authorises it.
struct SealBrokenRule {
  static void OnSeal(VehicleState& v, const cit::v1::Record& r, AlertSink& sink);
};

// PANIC: duress input, immediately, critical.
struct PanicRule {
  static void OnPanic(VehicleState& v, const cit::v1::Record& r, AlertSink& sink);
};

// LATE_ARRIVAL: not arrived when the window closes (clock); arrival after it (records).
struct LateArrivalRule {
  static void OnDeadline(VehicleState& v, SysTime now, AlertSink& sink);
  static void OnArrived(VehicleState& v, int stop, const FixContext& f, AlertSink& sink);
};

// MISSED_STOP: passed without arriving (records: the track, not one fix, went past it while
// the run is under way), still not there missed_stop_grace_s after the window closed (clock),
// or pending when the run completes.
struct MissedStopRule {
  static void OnFix(VehicleState& v, const FixContext& f, AlertSink& sink);
  static void OnDeadline(VehicleState& v, SysTime now, AlertSink& sink);
  static void OnRunCompleted(VehicleState& v, SysTime now, AlertSink& sink);
  static void OnArrived(VehicleState& v, int stop, const FixContext& f, AlertSink& sink);
};

// EARLY_ARRIVAL: arrival before the window opens; clears on departure.
struct EarlyArrivalRule {
  static void OnArrived(VehicleState& v, int stop, const FixContext& f, AlertSink& sink);
  static void OnDeparted(VehicleState& v, int stop, SysTime t, AlertSink& sink);
};

// DWELL_EXCEEDED: in a stop zone longer than its max dwell (records and clock).
struct DwellExceededRule {
  static void OnArrived(VehicleState& v, int stop, DeadlineScheduler& clock);
  static void OnFix(VehicleState& v, const FixContext& f, AlertSink& sink);
  static void OnDeadline(VehicleState& v, SysTime now, AlertSink& sink);
  static void OnDeparted(VehicleState& v, int stop, SysTime t, AlertSink& sink);
};

// GNSS_LOST: no usable fix for gnss_loss_s while records keep arriving (records and clock). A
// position frozen while the vehicle was moving (FixContext::frozen_while_moving) is no usable
// fix either.
struct GnssLostRule {
  static void OnUsableFix(VehicleState& v, const FixContext& f, AlertSink& sink);
  static void OnFrozenFix(VehicleState& v, const FixContext& f, SysTime server_time,
                          DeadlineScheduler& clock, AlertSink& sink);
  static void OnNoFix(VehicleState& v, SysTime event_time, SysTime server_time,
                      DeadlineScheduler& clock, AlertSink& sink);
  static void OnDeadline(VehicleState& v, SysTime now, AlertSink& sink);
};

// GNSS_IMPLAUSIBLE: implied speed above implausible_speed_mps (after eph), a jump the reported
// speeds cannot explain, or a jam indicator above its threshold.
struct GnssImplausibleRule {
  static void OnFix(VehicleState& v, const FixContext& f, AlertSink& sink);
};

// COMMS_LOST: no record for comms_loss_s during a live run (clock); clears on the next record.
struct CommsLostRule {
  static void OnRecord(VehicleState& v, SysTime server_time, DeadlineScheduler& clock,
                       AlertSink& sink);
  static void OnDeadline(VehicleState& v, SysTime now, DeadlineScheduler& clock, AlertSink& sink);
};

// OVERSPEED: speed minus eps above max_speed_mps for overspeed_min_s.
struct OverspeedRule {
  static void OnFix(VehicleState& v, const FixContext& f, AlertSink& sink);
};

// MOVED_WITHOUT_RUN: more than moved_without_run_m from where it stood while no run is live.
struct MovedWithoutRunRule {
  static void OnFix(VehicleState& v, const FixContext& f, AlertSink& sink);
  static void OnRunStarted(VehicleState& v, SysTime t, AlertSink& sink);
};

// CREW_INCOMPLETE: the run leaves the depot, or doors open at a stop that requires check-in,
// with fewer than min_crew checked in; clears when enough crew check in.
struct CrewIncompleteRule {
  static void OnCrew(VehicleState& v, const cit::v1::Record& r, AlertSink& sink);
  static void OnDepartedDepot(VehicleState& v, SysTime t, AlertSink& sink);
  static void OnDoorOpen(VehicleState& v, const cit::v1::Record& r, AlertSink& sink);
};

// Small helpers shared by the rule files.
namespace rules_internal {
inline AlertSignal Signal(cit::v1::AlertKind kind, cit::v1::Severity severity, SysTime t,
                          std::string subject, std::string details) {
  AlertSignal s;
  s.kind = kind;
  s.severity = severity;
  s.event_time = t;
  s.subject = std::move(subject);
  s.details = std::move(details);
  return s;
}
// Where the vehicle was last seen, for alerts raised by non-fix records or the clock.
inline void AtLastFix(const VehicleState& v, AlertSignal& s) {
  if (v.last_fix) s.position = ToLatLon(v.last_fix->position);
}
std::string FormatTime(SysTime t);  // "2026-01-15T05:20:00Z" (UTC, whole seconds)
}  // namespace rules_internal

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_RULES_RULES_H_
