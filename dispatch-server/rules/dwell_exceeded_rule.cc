#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

namespace {

void Raise(VehicleState& v, int stop, SysTime t, double dwell_s, uint64_t seq, AlertSink& sink) {
  const CompiledStop& s = v.run->stops[stop];
  v.stops[stop].dwell_alerted = true;
  AlertSignal sig =
      Signal(cit::v1::ALERT_KIND_DWELL_EXCEEDED, cit::v1::SEVERITY_MEDIUM, t, s.stop_id,
             absl::StrCat("at ", s.stop_id, " for ", static_cast<int>(dwell_s), " s (max ",
                          static_cast<int>(s.max_dwell_s), " s)"));
  rules_internal::AtLastFix(v, sig);
  sig.record_seq = seq;
  sink.Raise(sig);
}

}  // namespace

void DwellExceededRule::OnArrived(VehicleState& v, int stop, DeadlineScheduler& clock) {
  const CompiledStop& s = v.run->stops[stop];
  if (s.max_dwell_s <= 0) return;
  // The arrival's event time plus the allowance, on the server clock: fires with no record if
  // the vehicle stays (or goes silent) in the zone.
  clock.Schedule(v, kTimerDwell, v.stops[stop].arrived + FromSeconds(s.max_dwell_s));
}

void DwellExceededRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  const int stop = v.current_stop;
  if (stop < 0 || !v.has_live_run()) return;
  const CompiledStop& s = v.run->stops[stop];
  StopTrack& t = v.stops[stop];
  if (s.max_dwell_s <= 0 || t.dwell_alerted || t.status != StopStatus::kArrived) return;
  const double dwell_s = Seconds(f.event_time - t.arrived);
  if (dwell_s > s.max_dwell_s) Raise(v, stop, f.event_time, dwell_s, f.seq, sink);
}

void DwellExceededRule::OnDeadline(VehicleState& v, SysTime now, AlertSink& sink) {
  const int stop = v.current_stop;
  if (stop < 0 || !v.has_live_run()) return;
  const CompiledStop& s = v.run->stops[stop];
  StopTrack& t = v.stops[stop];
  if (s.max_dwell_s <= 0 || t.dwell_alerted || t.status != StopStatus::kArrived) return;
  const SysTime deadline = t.arrived + FromSeconds(s.max_dwell_s);
  if (now < deadline) return;
  Raise(v, stop, deadline, s.max_dwell_s, 0, sink);
}

void DwellExceededRule::OnDeparted(VehicleState& v, int stop, SysTime t, AlertSink& sink) {
  if (!v.stops[stop].dwell_alerted) return;
  sink.Clear(
      cit::v1::ALERT_KIND_DWELL_EXCEEDED, v.run->stops[stop].stop_id, t,
      absl::StrCat("departed after ", static_cast<int>(Seconds(t - v.stops[stop].arrived)), " s"));
}

}  // namespace cit::dispatch
