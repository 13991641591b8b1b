#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// No debounce and no clear: a duress input is always an alert until an operator resolves it.
void PanicRule::OnPanic(VehicleState& v, const cit::v1::Record& r, AlertSink& sink) {
  const std::string source = r.panic().source().empty() ? "panic" : r.panic().source();
  AlertSignal sig =
      Signal(cit::v1::ALERT_KIND_PANIC, cit::v1::SEVERITY_CRITICAL, FromProto(r.event_time()),
             source, absl::StrCat("duress input ", source));
  rules_internal::AtLastFix(v, sig);
  sig.record_seq = r.seq();
  sig.momentary = true;  // each press counts as an occurrence
  sink.Raise(sig);
}

}  // namespace cit::dispatch
