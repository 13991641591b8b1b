#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// One timer per vehicle, re-armed lazily: a record only moves last_seen_server; when the timer
// fires early (the vehicle was heard since) it re-arms for the new deadline. So a 1 Hz stream
// costs no timer work per record.
void CommsLostRule::OnRecord(VehicleState& v, SysTime server_time, DeadlineScheduler& clock,
                             AlertSink& sink) {
  CommsLostState& s = v.comms;
  s.last_seen_server = std::max(s.last_seen_server, server_time);
  if (s.active) {
    s.active = false;
    sink.Clear(cit::v1::ALERT_KIND_COMMS_LOST, "", server_time, "vehicle heard again");
  }
  if (v.timers[kTimerComms] == 0 && v.has_live_run()) {
    clock.Schedule(v, kTimerComms, s.last_seen_server + FromSeconds(v.limits.comms_loss_s));
  }
}

void CommsLostRule::OnDeadline(VehicleState& v, SysTime now, DeadlineScheduler& clock,
                               AlertSink& sink) {
  CommsLostState& s = v.comms;
  if (!v.has_live_run() || s.active) return;
  const SysTime deadline = s.last_seen_server + FromSeconds(v.limits.comms_loss_s);
  if (now < deadline) {
    clock.Schedule(v, kTimerComms, deadline);
    return;
  }
  s.active = true;
  AlertSignal sig = Signal(
      cit::v1::ALERT_KIND_COMMS_LOST, cit::v1::SEVERITY_HIGH, deadline, "",
      absl::StrCat("nothing received since ", rules_internal::FormatTime(s.last_seen_server)));
  rules_internal::AtLastFix(v, sig);
  sink.Raise(sig);
}

}  // namespace cit::dispatch
