#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

namespace {

// Whether stop `i` authorises opening at `t`: doors_may_open, and within
// [arrival_earliest, arrival_latest + max_dwell] when the stop has a window.
bool Authorised(const CompiledStop& s, SysTime t) {
  if (!s.doors_may_open) return false;
  if (s.earliest && t < *s.earliest) return false;
  if (s.latest && t > *s.latest + FromSeconds(s.max_dwell_s)) return false;
  return true;
}

}  // namespace

void DoorOpenOutsideStopRule::OnDoor(VehicleState& v, const cit::v1::Record& r, AlertSink& sink) {
  const SysTime t = FromProto(r.event_time());
  const std::string subject = absl::StrCat("door:", r.door().door());
  if (r.door().state() == cit::v1::DOOR_STATE_CLOSED) {
    sink.Clear(cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP, subject, t, "door closed");
    return;
  }
  if (r.door().state() != cit::v1::DOOR_STATE_OPEN) return;
  std::string where;
  if (v.has_live_run() && v.current_stop >= 0) {
    const CompiledStop& s = v.run->stops[v.current_stop];
    if (Authorised(s, t)) return;
    where = s.doors_may_open ? absl::StrCat("at ", s.stop_id, " outside its window")
                             : absl::StrCat("at ", s.stop_id, ", which does not authorise doors");
  } else {
    where = v.has_live_run() ? "outside every stop zone" : "with no live run";
  }
  AlertSignal sig = Signal(cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP, cit::v1::SEVERITY_CRITICAL,
                           t, subject, absl::StrCat("door ", r.door().door(), " opened ", where));
  rules_internal::AtLastFix(v, sig);
  sig.record_seq = r.seq();
  sink.Raise(sig);
}

}  // namespace cit::dispatch
