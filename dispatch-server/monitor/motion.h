// Moving / stopped state of one vehicle from its fixes, with hysteresis so that GPS jitter at
// a standstill does not flap, and with frozen-position handling: a receiver that repeats the
// same coordinates (tunnels, dead-reckoning gaps) gives no motion information, so the state is
// held until the position changes; the distance then covered over the whole freeze tells
// whether the vehicle was moving (tunnel) or standing (a real stop that began at the freeze).
// A freeze that begins at a speed no vehicle can brake away before the first repeated fix is
// not a receiver pinning a standing vehicle (u-blox "static hold" does that below walking
// pace): the receiver has lost the position (tunnel, jamming, spoofing), unless it reports the
// vehicle standing. Those fixes are marked fix.frozen_while_moving, and GNSS_LOST counts them as
// no fix.
//
//   UpdateMotion(vehicle.motion, vehicle.limits, fix);   // fills fix.speed_mps
//
// Thread contract: pure function over the caller's state.
#ifndef CIT_DISPATCH_SERVER_MONITOR_MOTION_H_
#define CIT_DISPATCH_SERVER_MONITOR_MOTION_H_

#include "dispatch-server/plans/run_limits.h"
#include "dispatch-server/rules/vehicle_state.h"

namespace cit::dispatch {

// Moving again needs this much more than stopped_speed_mps (2 fixes), or this displacement
// from where the vehicle stopped (beyond the fix error).
inline constexpr double kMovingHysteresisMps = 1.0;
inline constexpr double kMovingDisplacementM = 20.0;
// Hard braking of a loaded truck on dry asphalt is below 0.8 g; a vehicle that stands still at
// the first repeated fix was, at the last distinct one, slower than stopped_speed_mps plus this
// deceleration times the time between them.
inline constexpr double kMaxBrakingMps2 = 8.0;

void UpdateMotion(MotionState& m, const RunLimits& limits, FixContext& f);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MONITOR_MOTION_H_
