#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// Uses the monitor's motion state, which already has hysteresis (moving again needs a clear
// speed or displacement) and treats a frozen position as "no information" rather than as a
// stop, so a tunnel's position freeze is not a stop unless it outlasts the threshold.
void UnscheduledStopRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  UnscheduledStopState& s = v.unscheduled_stop;
  const MotionState& m = v.motion;
  std::optional<SysTime> since = m.stopped_since;
  if (!since && m.frozen) since = m.frozen_since;
  if (!since || !v.has_live_run()) {
    if (s.active) {
      sink.Clear(cit::v1::ALERT_KIND_UNSCHEDULED_STOP, "", f.event_time, "moving again");
      s.active = false;
    }
    return;
  }
  if (s.active || f.stop_index >= 0) return;
  const double stopped_s = Seconds(f.event_time - *since);
  if (stopped_s < v.limits.unscheduled_stop_s) return;
  s.active = true;
  AlertSignal sig =
      Signal(cit::v1::ALERT_KIND_UNSCHEDULED_STOP, cit::v1::SEVERITY_HIGH, f.event_time, "",
             absl::StrCat("stopped ", static_cast<int>(stopped_s), " s outside every stop zone"));
  sig.position = ToLatLon(f.position);
  sig.record_seq = f.seq;
  sink.Raise(sig);
}

}  // namespace cit::dispatch
