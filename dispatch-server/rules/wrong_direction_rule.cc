#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/route_progress.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// Progress along the route is tracked only while on the corridor (off-route progress is
// meaningless), only once the run is under way (a truck may reach its first stop from either
// side), and only on fixes that continue the track (route_progress.h): one stray fix must not
// become the furthest progress, nor can a chain that began far beyond it (a track crossing a
// later part of the route) until it is under way along the route. Going back more than
// backwards_tolerance_m + eph from the furthest progress for 2 fixes raises; 3 consecutive forward
// fixes clear and re-baseline the furthest progress.
void WrongDirectionRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  if (!f.on_run || f.distance_m - f.eph_m > v.run->half_width_m) return;
  if (v.run_state != cit::v1::RUN_STATE_ACTIVE || !f.progress_continuous) return;
  WrongDirectionState& s = v.wrong_direction;
  if (!s.has_max) {
    s.has_max = true;
    s.max_progress_m = f.progress_m;
    s.last_progress_m = f.progress_m;
    return;
  }
  const double back_m = s.max_progress_m - f.progress_m;
  if (!s.active) {
    if (back_m > v.limits.backwards_tolerance_m + f.eph_m) {
      if (++s.back_fixes >= 2) {
        s.active = true;
        s.forward_fixes = 0;
        AlertSignal sig = Signal(
            cit::v1::ALERT_KIND_WRONG_DIRECTION, cit::v1::SEVERITY_MEDIUM, f.event_time, "",
            absl::StrCat("moving against the route: ", static_cast<int>(back_m),
                         " m behind furthest progress ", static_cast<int>(s.max_progress_m), " m"));
        sig.position = ToLatLon(f.position);
        sig.record_seq = f.seq;
        sink.Raise(sig);
      }
    } else {
      s.back_fixes = 0;
      const bool from_baseline =
          v.progress_chain.min_progress_m <= s.max_progress_m + v.limits.backwards_tolerance_m;
      if (from_baseline || ChainUnderWay(v.progress_chain, f)) {
        s.max_progress_m = std::max(s.max_progress_m, f.progress_m);
      }
    }
  } else {
    if (f.progress_m > s.last_progress_m + 1.0) {
      ++s.forward_fixes;
    } else {
      s.forward_fixes = 0;
    }
    if (s.forward_fixes >= 3 || back_m <= v.limits.backwards_tolerance_m * 0.5) {
      sink.Clear(cit::v1::ALERT_KIND_WRONG_DIRECTION, "", f.event_time, "moving along the route");
      s.active = false;
      s.back_fixes = 0;
      s.max_progress_m = f.progress_m;
    }
  }
  s.last_progress_m = f.progress_m;
}

}  // namespace cit::dispatch
