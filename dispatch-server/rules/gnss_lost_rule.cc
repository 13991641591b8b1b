#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

void GnssLostRule::OnUsableFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  GnssLostState& s = v.gnss_lost;
  if (!s.lost) return;
  s.lost = false;
  if (s.active) {
    s.active = false;
    sink.Clear(cit::v1::ALERT_KIND_GNSS_LOST, "", f.event_time,
               absl::StrCat("fix back after ",
                            static_cast<int>(Seconds(f.event_time - s.lost_since)), " s"));
  }
}

// A record saying "no usable fix" (a mode < 2 fix or a FIX_LOST / GPSD_DISCONNECTED status).
// Raises from records once the loss has lasted gnss_loss_s of event time (backfill included),
// and arms a clock deadline so that a loss followed by silence of the GNSS stream also fires.
void GnssLostRule::OnNoFix(VehicleState& v, SysTime event_time, SysTime server_time,
                           DeadlineScheduler& clock, AlertSink& sink) {
  GnssLostState& s = v.gnss_lost;
  if (!s.lost) {
    s.lost = true;
    s.lost_since = event_time;
    s.lost_since_server = server_time;
    clock.Schedule(v, kTimerGnss, server_time + FromSeconds(v.limits.gnss_loss_s));
    return;
  }
  const double lost_s = Seconds(event_time - s.lost_since);
  if (s.active || lost_s < v.limits.gnss_loss_s) return;
  s.active = true;
  AlertSignal sig = Signal(cit::v1::ALERT_KIND_GNSS_LOST, cit::v1::SEVERITY_HIGH, event_time, "",
                           absl::StrCat("no usable fix for ", static_cast<int>(lost_s),
                                        " s while the link is up: jamming suspected"));
  rules_internal::AtLastFix(v, sig);
  sink.Raise(sig);
}

void GnssLostRule::OnDeadline(VehicleState& v, SysTime now, AlertSink& sink) {
  GnssLostState& s = v.gnss_lost;
  if (!s.lost || s.active) return;
  // "While the link is alive": only if the vehicle was heard after the loss began.
  if (Seconds(now - v.last_seen_server) >= v.limits.comms_loss_s) return;
  s.active = true;
  const SysTime t = s.lost_since + FromSeconds(v.limits.gnss_loss_s);
  AlertSignal sig =
      Signal(cit::v1::ALERT_KIND_GNSS_LOST, cit::v1::SEVERITY_HIGH, t, "",
             absl::StrCat("no usable fix since ", rules_internal::FormatTime(s.lost_since),
                          " while the link is up: jamming suspected"));
  rules_internal::AtLastFix(v, sig);
  sink.Raise(sig);
}

}  // namespace cit::dispatch
