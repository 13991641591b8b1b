#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

void EarlyArrivalRule::OnArrived(VehicleState& v, int stop, const FixContext& f, AlertSink& sink) {
  const CompiledStop& s = v.run->stops[stop];
  if (!s.earliest || f.event_time >= *s.earliest) return;
  v.stops[stop].early = true;
  AlertSignal sig =
      Signal(cit::v1::ALERT_KIND_EARLY_ARRIVAL, cit::v1::SEVERITY_LOW, f.event_time, s.stop_id,
             absl::StrCat("arrived at ", s.stop_id, " ",
                          static_cast<int>(Seconds(*s.earliest - f.event_time)),
                          " s before its window opens"));
  sig.position = ToLatLon(f.position);
  sig.record_seq = f.seq;
  sink.Raise(sig);
}

void EarlyArrivalRule::OnDeparted(VehicleState& v, int stop, SysTime t, AlertSink& sink) {
  if (!v.stops[stop].early) return;
  sink.Clear(cit::v1::ALERT_KIND_EARLY_ARRIVAL, v.run->stops[stop].stop_id, t, "departed");
}

}  // namespace cit::dispatch
