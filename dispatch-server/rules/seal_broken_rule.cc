#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

void SealBrokenRule::OnSeal(VehicleState& v, const cit::v1::Record& r, AlertSink& sink) {
  const SysTime t = FromProto(r.event_time());
  const std::string subject = absl::StrCat("seal:", r.seal().seal());
  if (r.seal().state() == cit::v1::SEAL_STATE_INTACT) {
    sink.Clear(cit::v1::ALERT_KIND_SEAL_BROKEN, subject, t, "seal intact again");
    return;
  }
  if (r.seal().state() != cit::v1::SEAL_STATE_BROKEN) return;
  if (v.has_live_run() && v.current_stop >= 0) {
    const CompiledStop& s = v.run->stops[v.current_stop];
    const bool in_window = (!s.earliest || t >= *s.earliest) &&
                           (!s.latest || t <= *s.latest + FromSeconds(s.max_dwell_s));
    if (s.seal_may_break && in_window) return;
  }
  AlertSignal sig = Signal(
      cit::v1::ALERT_KIND_SEAL_BROKEN, cit::v1::SEVERITY_CRITICAL, t, subject,
      v.current_stop >= 0 && v.has_live_run()
          ? absl::StrCat("seal ", r.seal().seal(), " broken at ",
                         v.run->stops[v.current_stop].stop_id, ", which does not authorise it now")
          : absl::StrCat("seal ", r.seal().seal(), " broken outside any stop"));
  rules_internal::AtLastFix(v, sig);
  sig.record_seq = r.seq();
  sink.Raise(sig);
}

}  // namespace cit::dispatch
