#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// Fires when (distance - eph) > half-width holds for at least deviation_min_fixes consecutive
// fixes spanning deviation_min_s; escalates to critical beyond 1 km or 5 min. Clearing needs
// the plain distance back within the half-width (the eph margin is the hysteresis band) for
// deviation_clear_fixes consecutive fixes, so GPS noise at the corridor edge does not flap.
void RouteDeviationRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
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
    const bool critical = s.max_distance_m > 1000 || off_s >= 300;
    if (!s.active && s.off_fixes >= l.deviation_min_fixes && off_s >= l.deviation_min_s) {
      s.active = true;
      s.critical = critical;
    } else if (s.active && critical && !s.critical) {
      s.critical = true;
    } else {
      return;
    }
    AlertSignal sig =
        Signal(cit::v1::ALERT_KIND_ROUTE_DEVIATION,
               s.critical ? cit::v1::SEVERITY_CRITICAL : cit::v1::SEVERITY_HIGH, f.event_time, "",
               absl::StrCat(static_cast<int>(f.distance_m), " m off route (half-width ",
                            static_cast<int>(half_width), " m) for ", static_cast<int>(off_s),
                            " s, at most ", static_cast<int>(s.max_distance_m), " m"));
    sig.position = ToLatLon(f.position);
    sig.record_seq = f.seq;
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
