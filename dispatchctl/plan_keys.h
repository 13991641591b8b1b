// Unknown keys in a plan file, named by their path (issue 13): "stops[1].arival_latest: unknown
// key (did you mean arrival_latest?)". protobuf's JSON parser refuses them too, but names only
// the key and the message type, not which stop; a misspelt key must never be dropped silently
// (a typo in a limit would give the default).
//
//   if (absl::Status s = CheckPlanKeys(doc); !s.ok()) return s;   // doc: the plan as JSON
//
// Keys are the proto field names of RunPlan (or their lowerCamelCase JSON names).
//
// Thread contract: pure function.
#ifndef CIT_DISPATCHCTL_PLAN_KEYS_H_
#define CIT_DISPATCHCTL_PLAN_KEYS_H_

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace cit::ctl {

absl::Status CheckPlanKeys(const nlohmann::json& plan);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_PLAN_KEYS_H_
