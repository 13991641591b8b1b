#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// Progress along the route is tracked only while on the corridor (off-route progress is
// meaningless). Going back more than backwards_tolerance_m + eph from the furthest progress for
// 2 fixes raises; 3 consecutive forward fixes clear and re-baseline the furthest progress.
void WrongDirectionRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  if (!f.on_run || f.distance_m - f.eph_m > v.run->half_width_m) return;
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
      s.max_progress_m = std::max(s.max_progress_m, f.progress_m);
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
