#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// Clock side: the monitor's window timer calls this at each arrival_latest; every pending
// stop whose window has closed raises (event time = the window's end, no record needed).
void LateArrivalRule::OnDeadline(VehicleState& v, SysTime now, AlertSink& sink) {
  if (!v.has_live_run()) return;
  for (size_t i = 0; i < v.stops.size(); ++i) {
    StopTrack& t = v.stops[i];
    const CompiledStop& s = v.run->stops[i];
    if (t.status != StopStatus::kPending || t.late_alerted || !s.latest || now < *s.latest) {
      continue;
    }
    t.late_alerted = true;
    t.late = true;
    AlertSignal sig =
        Signal(cit::v1::ALERT_KIND_LATE_ARRIVAL, cit::v1::SEVERITY_HIGH, *s.latest, s.stop_id,
               absl::StrCat("not at ", s.stop_id, " when its window closed at ",
                            rules_internal::FormatTime(*s.latest)));
    rules_internal::AtLastFix(v, sig);
    sink.Raise(sig);
  }
}

// Record side: an arrival after the window (also from backfilled fixes, before or after the
// clock noticed) raises or completes the alert; an arrival in time clears a clock alert that
// was raised while the data was still on its way.
void LateArrivalRule::OnArrived(VehicleState& v, int stop, const FixContext& f, AlertSink& sink) {
  const CompiledStop& s = v.run->stops[stop];
  StopTrack& t = v.stops[stop];
  if (!s.latest) return;
  if (f.event_time > *s.latest) {
    t.late = true;
    const int late_s = static_cast<int>(Seconds(f.event_time - *s.latest));
    AlertSignal sig =
        Signal(cit::v1::ALERT_KIND_LATE_ARRIVAL, cit::v1::SEVERITY_HIGH,
               t.late_alerted ? *s.latest : f.event_time, s.stop_id,
               absl::StrCat("arrived at ", s.stop_id, " ", late_s, " s after its window"));
    sig.position = ToLatLon(f.position);
    sig.record_seq = f.seq;
    sink.Raise(sig);
    t.late_alerted = true;
    sink.Clear(cit::v1::ALERT_KIND_LATE_ARRIVAL, s.stop_id, f.event_time, "arrived");
  } else if (t.late_alerted) {
    t.late = false;
    sink.Clear(cit::v1::ALERT_KIND_LATE_ARRIVAL, s.stop_id, f.event_time,
               absl::StrCat("arrived in time at ", rules_internal::FormatTime(f.event_time),
                            " (the data came late)"));
  }
}

}  // namespace cit::dispatch
