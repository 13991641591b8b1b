#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

namespace {
constexpr uint32_t kClearFixes = 10;
constexpr double kJumpSlackM = 50.0;     // reported-speed check: distance allowance
constexpr double kJumpFactor = 1.5;      // and speed allowance
constexpr double kJumpCheckMaxDt = 5.0;  // reported-speed check only over short gaps
}  // namespace

// Compares each fix with the previous distinct usable one (monitor freeze handling means a
// tunnel's frozen-then-jumping position is measured over the whole freeze, at a plausible speed).
void GnssImplausibleRule::OnFix(VehicleState& v, const FixContext& f, AlertSink& sink) {
  ImplausibleState& s = v.implausible;
  const RunLimits& l = v.limits;
  // Jam indicator.
  if (f.has_jam_indicator) {
    if (f.jam_indicator > l.jam_indicator_threshold) {
      s.jam_ok_fixes = 0;
      if (!s.jam_active) {
        s.jam_active = true;
        AlertSignal sig = Signal(cit::v1::ALERT_KIND_GNSS_IMPLAUSIBLE, cit::v1::SEVERITY_HIGH,
                                 f.event_time, "jamming",
                                 absl::StrCat("receiver jam indicator ", f.jam_indicator, " > ",
                                              l.jam_indicator_threshold, ": jamming suspected"));
        sig.position = ToLatLon(f.position);
        sig.record_seq = f.seq;
        sink.Raise(sig);
      }
    } else if (s.jam_active && f.jam_indicator + 20 <= l.jam_indicator_threshold &&
               ++s.jam_ok_fixes >= kClearFixes) {
      s.jam_active = false;
      sink.Clear(cit::v1::ALERT_KIND_GNSS_IMPLAUSIBLE, "jamming", f.event_time,
                 "jam indicator normal");
    }
  }
  // Position jumps.
  if (v.motion.frozen) return;  // same position as before: nothing to compare yet
  if (s.last_position) {
    const double dt = Seconds(f.event_time - s.last_time);
    if (dt > 0) {
      const double dist = ApproxDistanceM(*s.last_position, f.position);
      const double implied = std::max(0.0, dist - s.last_eph_m - f.eph_m) / dt;
      std::string why;
      if (implied > l.implausible_speed_mps) {
        why = absl::StrCat("implied speed ", static_cast<int>(implied), " m/s over ",
                           static_cast<int>(dt), " s (", static_cast<int>(dist), " m jump)");
      } else if (dt <= kJumpCheckMaxDt && std::isfinite(f.reported_speed_mps) &&
                 std::isfinite(s.last_speed_mps)) {
        const double allowed = std::max(f.reported_speed_mps, s.last_speed_mps) * kJumpFactor * dt +
                               kJumpSlackM + s.last_eph_m + f.eph_m;
        if (dist > allowed) {
          why = absl::StrCat(static_cast<int>(dist), " m jump in ", dt, " s at reported ",
                             static_cast<int>(f.reported_speed_mps), " m/s");
        }
      }
      if (!why.empty()) {
        s.plausible_fixes = 0;
        if (!s.active) {
          s.active = true;
          AlertSignal sig =
              Signal(cit::v1::ALERT_KIND_GNSS_IMPLAUSIBLE, cit::v1::SEVERITY_HIGH, f.event_time,
                     "position", why + ": spoofing or receiver fault suspected");
          sig.position = ToLatLon(f.position);
          sig.record_seq = f.seq;
          sink.Raise(sig);
        }
      } else if (s.active && ++s.plausible_fixes >= kClearFixes) {
        s.active = false;
        sink.Clear(cit::v1::ALERT_KIND_GNSS_IMPLAUSIBLE, "position", f.event_time,
                   "positions consistent again");
      }
    }
  }
  s.last_position = f.position;
  s.last_time = f.event_time;
  s.last_eph_m = f.eph_m;
  s.last_speed_mps = f.reported_speed_mps;
}

}  // namespace cit::dispatch
