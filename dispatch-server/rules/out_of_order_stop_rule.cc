#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

void OutOfOrderStopRule::OnArrived(VehicleState& v, int stop, const FixContext& f,
                                   AlertSink& sink) {
  for (int j = 0; j < stop; ++j) {
    if (v.stops[j].status != StopStatus::kPending) continue;
    v.stops[stop].out_of_order = true;
    const CompiledStop& s = v.run->stops[stop];
    AlertSignal sig = Signal(
        cit::v1::ALERT_KIND_OUT_OF_ORDER_STOP, cit::v1::SEVERITY_MEDIUM, f.event_time, s.stop_id,
        absl::StrCat("arrived at ", s.stop_id, " before ", v.run->stops[j].stop_id, " (stop ",
                     j + 1, " of the plan)"));
    sig.position = ToLatLon(f.position);
    sig.record_seq = f.seq;
    sink.Raise(sig);
    return;
  }
}

}  // namespace cit::dispatch
