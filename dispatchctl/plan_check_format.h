// The table form of a plan check (`dispatchctl plan check`, CheckPlanResponse): what was
// checked, every alert that would have been raised with its event time, and the per-stop
// timeline.
//
//   std::cout << FormatPlanCheck(response);
//
// Thread contract: free function.
#ifndef CIT_DISPATCHCTL_PLAN_CHECK_FORMAT_H_
#define CIT_DISPATCHCTL_PLAN_CHECK_FORMAT_H_

#include <string>

#include "cit/v1/dispatch.pb.h"

namespace cit::ctl {

std::string FormatPlanCheck(const cit::v1::CheckPlanResponse& r);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_PLAN_CHECK_FORMAT_H_
