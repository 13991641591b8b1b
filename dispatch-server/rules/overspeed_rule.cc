#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

// Speed minus its error estimate must exceed the limit for overspeed_min_s (and 2 fixes);
// clearing needs 3 fixes at least 1 m/s under the limit.
void OverspeedRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  if (!std::isfinite(f.speed_mps)) return;
  OverspeedState& s = v.overspeed;
  const double limit = v.limits.max_speed_mps;
  if (f.speed_mps - f.eps_mps > limit) {
    s.ok_fixes = 0;
    if (s.over_fixes++ == 0) {
      s.over_since = f.event_time;
      s.max_speed_mps = 0;
    }
    s.max_speed_mps = std::max(s.max_speed_mps, f.speed_mps);
    const double over_s = Seconds(f.event_time - s.over_since);
    if (!s.active && s.over_fixes >= 2 && over_s >= v.limits.overspeed_min_s) {
      s.active = true;
      AlertSignal sig =
          Signal(cit::v1::ALERT_KIND_OVERSPEED, cit::v1::SEVERITY_MEDIUM, f.event_time, "",
                 absl::StrCat(static_cast<int>(s.max_speed_mps * 3.6), " km/h for ",
                              static_cast<int>(over_s), " s (limit ", static_cast<int>(limit * 3.6),
                              " km/h)"));
      sig.position = ToLatLon(f.position);
      sig.record_seq = f.seq;
      sink.Raise(sig);
    }
    return;
  }
  if (!s.active) {
    s.over_fixes = 0;
    return;
  }
  if (f.speed_mps <= limit - 1.0 && ++s.ok_fixes >= 3) {
    sink.Clear(cit::v1::ALERT_KIND_OVERSPEED, "", f.event_time, "speed back under the limit");
    s = OverspeedState{};
  }
}

}  // namespace cit::dispatch
