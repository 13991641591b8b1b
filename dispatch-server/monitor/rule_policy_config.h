// The [rules] section of dispatch-server's config file: server-wide rule settings that a run
// plan does not carry (rules/rule_policy.h). Every key has a default; an unknown key, a value
// that is not a positive number, or more than kMaxSteps steps is an error naming the key.
//
//   [rules]
//   deviation_escalation_half_widths = [2, 10]   # steps as multiples of the corridor half-width
//   deviation_escalation_m = [1000]              # and in metres; [] for none
//   deviation_critical_m = 1000                  # critical beyond this distance ...
//   deviation_critical_s = 300                   # ... or after this long off route
//
//   absl::StatusOr<RulePolicy> rules = RulePolicyFromConfig(cfg.raw);
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_SERVER_MONITOR_RULE_POLICY_CONFIG_H_
#define CIT_DISPATCH_SERVER_MONITOR_RULE_POLICY_CONFIG_H_

#include <toml++/toml.h>

#include "absl/status/statusor.h"
#include "dispatch-server/rules/rule_policy.h"

namespace cit::dispatch {

// At most this many steps per list (a list is meant for a handful of thresholds).
inline constexpr size_t kMaxEscalationSteps = 16;

absl::StatusOr<RulePolicy> RulePolicyFromConfig(const toml::table& raw);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MONITOR_RULE_POLICY_CONFIG_H_
