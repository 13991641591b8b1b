// Moving / stopped state of one vehicle from its fixes, with hysteresis so that GPS jitter at
// a standstill does not flap, and with frozen-position handling: a receiver that repeats the
// same coordinates (tunnels, dead-reckoning gaps) gives no motion information, so the state is
// held until the position changes; the distance then covered over the whole freeze tells
// whether the vehicle was moving (tunnel) or standing (a real stop that began at the freeze).
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

void UpdateMotion(MotionState& m, const RunLimits& limits, FixContext& f);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MONITOR_MOTION_H_
