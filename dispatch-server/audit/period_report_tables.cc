#include "dispatch-server/audit/period_report_tables.h"

#include <google/protobuf/util/time_util.h>

namespace cit::dispatch {

std::int64_t ReportStartNs(const cit::v1::Run& run) {
  const google::protobuf::Timestamp& planned = run.plan().planned_start();
  const bool has_planned = planned.seconds() != 0 || planned.nanos() != 0;
  return google::protobuf::util::TimeUtil::TimestampToNanoseconds(has_planned ? planned
                                                                              : run.created_time());
}

}  // namespace cit::dispatch
