#include "dispatch-server/monitor/motion.h"

#include <algorithm>
#include <cmath>

namespace cit::dispatch {

void UpdateMotion(MotionState& m, const RunLimits& limits, FixContext& f) {
  double speed = f.reported_speed_mps;
  std::optional<SysTime> freeze_began;
  if (m.last_distinct && *m.last_distinct == f.position) {
    if (!m.frozen) {
      m.frozen = true;
      m.frozen_since = m.last_distinct_time;
      const double braking_s = std::max(0.0, Seconds(f.event_time - m.last_distinct_time));
      m.frozen_while_moving =
          m.moving && std::isfinite(m.last_distinct_speed_mps) &&
          m.last_distinct_speed_mps > limits.stopped_speed_mps + kMaxBrakingMps2 * braking_s;
    }
    // A receiver that reports the vehicle standing is pinning its position (static hold). A
    // reported speed does not prove motion the other way: test feeds and some receivers repeat
    // the last speed.
    if (std::isfinite(speed) && speed < limits.stopped_speed_mps) m.frozen_while_moving = false;
    f.frozen_while_moving = m.frozen_while_moving;
    if (!std::isfinite(speed)) {
      f.speed_mps = NAN;  // no information: hold the state
      return;
    }
  } else {
    if (m.frozen) freeze_began = m.frozen_since;
    if (!std::isfinite(speed) && m.last_distinct) {
      const double dt = Seconds(f.event_time - m.last_distinct_time);
      if (dt > 0) speed = ApproxDistanceM(*m.last_distinct, f.position) / dt;
    }
    m.frozen = false;
    m.frozen_while_moving = false;
    m.last_distinct = f.position;
    m.last_distinct_time = f.event_time;
    m.last_distinct_speed_mps = speed;
  }
  f.speed_mps = speed;
  if (!std::isfinite(speed)) return;  // first fix without a reported speed

  if (!m.stopped_since) {
    if (speed < limits.stopped_speed_mps) {
      m.moving = false;
      m.stopped_since = freeze_began ? *freeze_began : f.event_time;
      m.stop_anchor = f.position;
      m.fast_fixes = 0;
    } else {
      m.moving = true;
    }
    return;
  }
  const double away_m = ApproxDistanceM(*m.stop_anchor, f.position) - f.eph_m;
  if (away_m > kMovingDisplacementM) {
    m.moving = true;
    m.stopped_since.reset();
    m.fast_fixes = 0;
  } else if (speed >= limits.stopped_speed_mps + kMovingHysteresisMps) {
    if (++m.fast_fixes >= 2) {
      m.moving = true;
      m.stopped_since.reset();
      m.fast_fixes = 0;
    }
  } else {
    m.fast_fixes = 0;
  }
}

}  // namespace cit::dispatch
