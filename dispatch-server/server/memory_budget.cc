#include "dispatch-server/server/memory_budget.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace cit::dispatch {

MemoryPlan PlanMemory(const DispatchServerOptions& options) {
  MemoryPlan p;
  p.limit_bytes = options.memory_limit_bytes;
  p.baseline_bytes = kBaselineBytes;
  p.inflight_records_bytes =
      static_cast<int64_t>(options.ingest.budget.max_records) * kPerInflightRecordBytes;
  p.per_vehicle_bytes = kPerVehicleBytes;
  if (p.limit_bytes > 0) {
    const int64_t rest = p.limit_bytes - p.baseline_bytes - p.inflight_records_bytes;
    p.vehicles_within_limit = std::max<int64_t>(0, rest / p.per_vehicle_bytes);
  }
  return p;
}

void LogMemoryPlan(const MemoryPlan& plan, const DispatchServerOptions& options) {
  spdlog::info(
      "event=memory_budget limit_bytes={} vehicles_within_limit={} baseline_bytes={} "
      "inflight_records={} inflight_bytes={} inflight_records_memory_bytes={} "
      "per_vehicle_bytes={} grpc_quota_bytes={} stream_window_bytes={} tls_frame_bytes={} "
      "max_connections={}",
      plan.limit_bytes, plan.vehicles_within_limit, plan.baseline_bytes,
      options.ingest.budget.max_records, options.ingest.budget.max_bytes,
      plan.inflight_records_bytes, plan.per_vehicle_bytes, options.telemetry_memory_quota_bytes,
      options.telemetry_stream_window_bytes, options.telemetry_tls_frame_bytes,
      options.telemetry_max_connections);
}

}  // namespace cit::dispatch
