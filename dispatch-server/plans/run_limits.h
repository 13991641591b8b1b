// Rule thresholds of one run: the plan's RunLimits with every unset field replaced by the server
// default (docs/alerts.md lists them); a set field is taken as given, so 0 is a real value
// (max_speed_mps 0 = no speed limit, min_crew 0 = no crew check). Rules read only this struct,
// never the proto.
//
//   RunLimits limits = ResolveLimits(plan.limits());
//   if (speed_mps > limits.max_speed_mps) ...
//
// Thread contract: plain value type.
#ifndef CIT_DISPATCH_SERVER_PLANS_RUN_LIMITS_H_
#define CIT_DISPATCH_SERVER_PLANS_RUN_LIMITS_H_

#include <cstdint>

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

struct RunLimits {
  double max_speed_mps = 25.0;             // 90 km/h, armoured trucks in towns and on highways
  double unscheduled_stop_s = 120.0;       // stopped this long outside every stop zone
  double gnss_loss_s = 30.0;               // no usable fix this long while records still arrive
  double comms_loss_s = 60.0;              // no record at all this long during a run
  double stopped_speed_mps = 1.5;          // below this the truck counts as stopped
  double implausible_speed_mps = 70.0;     // implied speed between fixes above this: spoofing
  double backwards_tolerance_m = 150.0;    // progress may go back this far (noise, U-turn lanes)
  double deviation_min_s = 10.0;           // off the corridor at least this long ...
  uint32_t deviation_min_fixes = 2;        // ... and for at least this many fixes
  uint32_t deviation_clear_fixes = 3;      // back inside for this many fixes clears it
  double overspeed_min_s = 10.0;           // above max_speed_mps this long
  double moved_without_run_m = 200.0;      // displacement without an active run
  uint32_t min_crew = 2;                   // crew checked in before leaving depot / opening doors
  uint32_t jam_indicator_threshold = 160;  // receiver jam indicator (0..255) above this
  double missed_stop_grace_s = 1800.0;     // window closed this long ago, still not there: missed
};

// Defaults for unset fields; negative, non-finite and meaningless zero values must have been
// refused by validation (plan_validation.h).
RunLimits ResolveLimits(const cit::v1::RunLimits& proto);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_RUN_LIMITS_H_
