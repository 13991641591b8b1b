#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// Without a live run the vehicle should stay where it is parked. The anchor is where it last
// stood still for unscheduled_stop_s (or its first fix); moving more than moved_without_run_m
// (+ eph) away raises. A new parking position or a dispatched run clears.
void MovedWithoutRunRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  MovedWithoutRunState& s = v.moved_without_run;
  if (v.has_live_run()) return;
  const MotionState& m = v.motion;
  const bool parked =
      m.stopped_since && Seconds(f.event_time - *m.stopped_since) >= v.limits.unscheduled_stop_s;
  if (!s.anchor || (parked && !m.moving)) {
    if (s.active && parked) {
      s.active = false;
      sink.Clear(cit::v1::ALERT_KIND_MOVED_WITHOUT_RUN, "", f.event_time, "parked again");
    }
    s.anchor = f.position;
    return;
  }
  if (s.active) return;
  const double moved = ApproxDistanceM(*s.anchor, f.position) - f.eph_m;
  if (moved <= v.limits.moved_without_run_m) return;
  s.active = true;
  AlertSignal sig =
      Signal(cit::v1::ALERT_KIND_MOVED_WITHOUT_RUN, cit::v1::SEVERITY_HIGH, f.event_time, "",
             absl::StrCat("moved ", static_cast<int>(moved), " m with no live run"));
  sig.position = ToLatLon(f.position);
  sig.record_seq = f.seq;
  sink.Raise(sig);
}

void MovedWithoutRunRule::OnRunStarted(VehicleState& v, SysTime t, AlertSink& sink) {
  MovedWithoutRunState& s = v.moved_without_run;
  if (s.active) sink.Clear(cit::v1::ALERT_KIND_MOVED_WITHOUT_RUN, "", t, "run dispatched");
  s = MovedWithoutRunState{};
}

}  // namespace cit::dispatch
