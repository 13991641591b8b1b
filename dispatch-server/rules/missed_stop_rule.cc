#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/route_progress.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

namespace {

// How far past a stop's zone (along the route) the vehicle must be to have passed it.
constexpr double kPassedMarginM = 100.0;

void Missed(VehicleState& v, size_t i, SysTime t, const std::string& why, uint64_t seq,
            AlertSink& sink) {
  StopTrack& track = v.stops[i];
  const CompiledStop& s = v.run->stops[i];
  track.missed_alerted = true;
  track.status = why == "passed" ? StopStatus::kSkipped : StopStatus::kMissed;
  AlertSignal sig = Signal(cit::v1::ALERT_KIND_MISSED_STOP, cit::v1::SEVERITY_HIGH, t, s.stop_id,
                           why == "passed" ? absl::StrCat("passed ", s.stop_id, " without stopping")
                                           : absl::StrCat(s.stop_id, " not visited: ", why));
  rules_internal::AtLastFix(v, sig);
  sig.record_seq = seq;
  sink.Raise(sig);
}

}  // namespace

// A stop is passed only when the track supports it (route_progress.h: the chain of fixes crossed
// it, or has been under way beyond it), and never while the run has not left its first stop:
// one fix a few hundred metres along, or on a street the route shares later, passes nothing.
void MissedStopRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  if (!f.on_run || f.distance_m - f.eph_m > v.run->half_width_m) return;
  if (v.run_state != cit::v1::RUN_STATE_ACTIVE || !f.progress_continuous) return;
  // Only the next pending stops can have been passed since the last fix.
  for (size_t i = static_cast<size_t>(v.next_stop); i < v.stops.size(); ++i) {
    const CompiledStop& s = v.run->stops[i];
    if (!TrackPassed(v.progress_chain, f, s.progress_m + s.reach_m, kPassedMarginM)) break;
    if (v.stops[i].status == StopStatus::kPending && !v.stops[i].missed_alerted) {
      Missed(v, i, f.event_time, "passed", f.seq, sink);
    }
  }
}

void MissedStopRule::OnDeadline(VehicleState& v, SysTime now, AlertSink& sink) {
  if (!v.has_live_run()) return;
  for (size_t i = 0; i < v.stops.size(); ++i) {
    const CompiledStop& s = v.run->stops[i];
    if (v.stops[i].status != StopStatus::kPending || v.stops[i].missed_alerted || !s.latest) {
      continue;
    }
    const SysTime deadline = *s.latest + FromSeconds(v.limits.missed_stop_grace_s);
    if (now < deadline) continue;
    Missed(v, i, deadline, absl::StrCat("window closed at ", rules_internal::FormatTime(*s.latest)),
           0, sink);
  }
}

void MissedStopRule::OnRunCompleted(VehicleState& v, SysTime now, AlertSink& sink) {
  if (!v.has_live_run()) return;
  for (size_t i = 0; i < v.stops.size(); ++i) {
    if (v.stops[i].status == StopStatus::kPending && !v.stops[i].missed_alerted) {
      Missed(v, i, now, "the run was completed", 0, sink);
    }
  }
}

void MissedStopRule::OnArrived(VehicleState& v, int stop, const FixContext& f, AlertSink& sink) {
  if (!v.stops[stop].missed_alerted) return;
  sink.Clear(cit::v1::ALERT_KIND_MISSED_STOP, v.run->stops[stop].stop_id, f.event_time,
             "arrived after all");
}

}  // namespace cit::dispatch
