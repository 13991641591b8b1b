#include <algorithm>

#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

namespace {

// How many of the policy's steps (for this run's half-width) `distance_m` has crossed, and the
// largest of them (0 when none). Counted in place: an off-route fix allocates nothing.
uint32_t StepsCrossed(const DeviationPolicy& policy, double half_width_m, double distance_m,
                      double* largest_m) {
  uint32_t n = 0;
  *largest_m = 0;
  auto count = [&](double step_m) {
    if (distance_m <= step_m) return;
    ++n;
    *largest_m = std::max(*largest_m, step_m);
  };
  for (double k : policy.half_width_steps) count(k * half_width_m);
  for (double m : policy.distance_steps_m) count(m);
  return n;
}

}  // namespace

// Fires when (distance - eph) > half-width holds for at least deviation_min_fixes consecutive
// fixes spanning deviation_min_s; critical beyond policy.critical_m or after policy.critical_s.
// While open, each escalation step the largest distance crosses is raised again (ESCALATED),
// so a truck that waited 80 m off route and then drives 1.7 km away is heard. Clearing needs
// the plain distance back within the half-width (the eph margin is the hysteresis band) for
// deviation_clear_fixes consecutive fixes, so GPS noise at the corridor edge does not flap.
void RouteDeviationRule::OnFix(VehicleState& v, const FixContext& f, const DeviationPolicy& policy,
                               AlertSink& sink) {
  if (!f.on_run) return;
  DeviationState& s = v.deviation;
  const RunLimits& l = v.limits;
  const double half_width = v.run->half_width_m;
  if (f.distance_m - f.eph_m > half_width) {
    s.in_fixes = 0;
    if (s.off_fixes == 0) {
      s.off_since = f.event_time;
      s.max_distance_m = 0;
    }
    ++s.off_fixes;
    s.max_distance_m = std::max(s.max_distance_m, f.distance_m);
    const double off_s = Seconds(f.event_time - s.off_since);
    const bool critical = s.max_distance_m > policy.critical_m || off_s >= policy.critical_s;
    double step_m = 0;
    const uint32_t step = StepsCrossed(policy, half_width, s.max_distance_m, &step_m);
    std::string why;
    if (!s.active && s.off_fixes >= l.deviation_min_fixes && off_s >= l.deviation_min_s) {
      s.active = true;
    } else if (s.active && step > s.escalation_step) {
      why = absl::StrCat("grew to ", static_cast<int>(s.max_distance_m), " m, past ",
                         static_cast<int>(step_m), " m: ");
    } else if (s.active && critical && !s.critical) {
      why = "critical: ";
    } else {
      return;
    }
    s.critical = critical;
    s.escalation_step = step;
    AlertSignal sig =
        Signal(cit::v1::ALERT_KIND_ROUTE_DEVIATION,
               s.critical ? cit::v1::SEVERITY_CRITICAL : cit::v1::SEVERITY_HIGH, f.event_time, "",
               absl::StrCat(why, static_cast<int>(f.distance_m), " m off route (half-width ",
                            static_cast<int>(half_width), " m) for ", static_cast<int>(off_s),
                            " s, at most ", static_cast<int>(s.max_distance_m), " m"));
    sig.position = ToLatLon(f.position);
    sig.record_seq = f.seq;
    sig.escalation_step = step;
    sink.Raise(sig);
    return;
  }
  if (!s.active) {
    s.off_fixes = 0;
    return;
  }
  if (f.distance_m <= half_width) {
    ++s.in_fixes;
  } else {
    s.in_fixes = 0;  // inside only thanks to the error margin: neither off nor back
  }
  if (s.in_fixes >= l.deviation_clear_fixes) {
    sink.Clear(cit::v1::ALERT_KIND_ROUTE_DEVIATION, "", f.event_time,
               absl::StrCat("back on route after ",
                            static_cast<int>(Seconds(f.event_time - s.off_since)), " s"));
    s = DeviationState{};
  }
}

}  // namespace cit::dispatch
