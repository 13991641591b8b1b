// Server-wide rule settings that are not part of a run plan: how an open alert escalates.
// Filled from the server config's [rules] section (monitor/rule_policy_config.h); the defaults
// here are the documented ones (docs/alerts.md).
//
//   RulePolicy policy;                                   // defaults
//   policy.deviation.half_width_steps = {2, 10};
//   RouteDeviationRule::OnFix(v, f, policy.deviation, sink);
//
// Thread contract: plain value type, read-only once the monitor runs.
#ifndef CIT_DISPATCH_SERVER_RULES_RULE_POLICY_H_
#define CIT_DISPATCH_SERVER_RULES_RULE_POLICY_H_

#include <vector>

namespace cit::dispatch {

// ROUTE_DEVIATION escalation. A deviation that keeps growing must be heard again: each step
// its largest distance from the centre-line crosses (after the alert was raised) is a new
// ESCALATED event with the distance in the details.
struct DeviationPolicy {
  // Steps as multiples of the run's corridor half-width ...
  std::vector<double> half_width_steps = {2.0, 10.0};
  // ... and in metres. Both lists together, sorted, are the steps; empty lists: no steps.
  std::vector<double> distance_steps_m = {1000.0};
  // Severity becomes critical beyond this distance or after this long off route.
  double critical_m = 1000.0;
  double critical_s = 300.0;
};

struct RulePolicy {
  DeviationPolicy deviation;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_RULES_RULE_POLICY_H_
