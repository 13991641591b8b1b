#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

namespace {

// "position frozen at 48.133125,11.533456 since 07:03:53Z (while moving)" for the details.
std::string FrozenAt(const VehicleState& v) {
  std::string at;
  if (v.motion.last_distinct) {
    at = absl::StrCat(" at ", absl::StrFormat("%.6f,%.6f", v.motion.last_distinct->lat_deg(),
                                              v.motion.last_distinct->lon_deg()));
  }
  return absl::StrCat("position frozen", at, " since ",
                      rules_internal::FormatTime(v.gnss_lost.lost_since),
                      " while the vehicle was moving (identical coordinates repeated)");
}

void RaiseLost(VehicleState& v, SysTime event_time, const std::string& what, AlertSink& sink) {
  v.gnss_lost.active = true;
  AlertSignal sig = Signal(cit::v1::ALERT_KIND_GNSS_LOST, cit::v1::SEVERITY_HIGH, event_time, "",
                           absl::StrCat(what, " while the link is up: jamming suspected"));
  rules_internal::AtLastFix(v, sig);
  sink.Raise(sig);
}

}  // namespace

void GnssLostRule::OnUsableFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  GnssLostState& s = v.gnss_lost;
  if (!s.lost) return;
  s.lost = false;
  if (s.active) {
    s.active = false;
    std::string jump;
    if (s.frozen && v.last_fix) {
      jump = absl::StrCat("; ", static_cast<int>(ApproxDistanceM(v.last_fix->position, f.position)),
                          " m from the frozen position");
    }
    sink.Clear(cit::v1::ALERT_KIND_GNSS_LOST, "", f.event_time,
               absl::StrCat("fix back after ",
                            static_cast<int>(Seconds(f.event_time - s.lost_since)), " s", jump));
  }
  s.frozen = false;
}

// A fix repeating the position of a moving vehicle: the loss began at the last distinct fix.
// Raises once it has lasted gnss_loss_s of event time; the clock deadline covers a freeze
// followed by silence of the GNSS stream.
void GnssLostRule::OnFrozenFix(VehicleState& v, const FixContext& f, SysTime server_time,
                               DeadlineScheduler& clock, AlertSink& sink) {
  GnssLostState& s = v.gnss_lost;
  if (!s.lost) {
    s.lost = true;
    s.frozen = true;
    s.lost_since = v.motion.frozen_since;
    s.lost_since_server = server_time - (f.event_time - v.motion.frozen_since);
    clock.Schedule(v, kTimerGnss, s.lost_since_server + FromSeconds(v.limits.gnss_loss_s));
  }
  const double lost_s = Seconds(f.event_time - s.lost_since);
  if (s.active || lost_s < v.limits.gnss_loss_s) return;
  RaiseLost(v, f.event_time,
            s.frozen ? absl::StrCat(FrozenAt(v), " for ", static_cast<int>(lost_s), " s")
                     : absl::StrCat("no usable fix for ", static_cast<int>(lost_s), " s"),
            sink);
}

// A record saying "no usable fix" (a mode < 2 fix or a FIX_LOST / GPSD_DISCONNECTED status).
// Raises from records once the loss has lasted gnss_loss_s of event time (backfill included),
// and arms a clock deadline so that a loss followed by silence of the GNSS stream also fires.
void GnssLostRule::OnNoFix(VehicleState& v, SysTime event_time, SysTime server_time,
                           DeadlineScheduler& clock, AlertSink& sink) {
  GnssLostState& s = v.gnss_lost;
  if (!s.lost) {
    s.lost = true;
    s.frozen = false;
    s.lost_since = event_time;
    s.lost_since_server = server_time;
    clock.Schedule(v, kTimerGnss, server_time + FromSeconds(v.limits.gnss_loss_s));
    return;
  }
  const double lost_s = Seconds(event_time - s.lost_since);
  if (s.active || lost_s < v.limits.gnss_loss_s) return;
  RaiseLost(v, event_time,
            absl::StrCat("no usable fix for ", static_cast<int>(lost_s), " s",
                         s.frozen ? absl::StrCat(" (", FrozenAt(v), ", then none)") : ""),
            sink);
}

void GnssLostRule::OnDeadline(VehicleState& v, SysTime now, AlertSink& sink) {
  GnssLostState& s = v.gnss_lost;
  if (!s.lost || s.active) return;
  // "While the link is alive": only if the vehicle was heard after the loss began.
  if (Seconds(now - v.last_seen_server) >= v.limits.comms_loss_s) return;
  RaiseLost(v, s.lost_since + FromSeconds(v.limits.gnss_loss_s),
            s.frozen
                ? FrozenAt(v)
                : absl::StrCat("no usable fix since ", rules_internal::FormatTime(s.lost_since)),
            sink);
}

}  // namespace cit::dispatch
