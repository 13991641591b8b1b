// What the server's resident memory is made of, sized from the configuration, logged at start
// so that an operator sees what `[server] memory_limit_bytes` bounds and how many vehicles fit
// under it (issue 16 §1: RSS under a reconnect storm stays under a configured bound).
//
//   MemoryPlan plan = PlanMemory(options);
//   LogMemoryPlan(plan);   // event=memory_budget ... vehicles_within_limit=...
//
// The per-vehicle and per-record costs are measured figures (docs/benchmarks.md, "Reconnect
// storm"), not guarantees: a connected vehicle costs ~100 KiB, most of it OpenSSL's and gRPC's
// per-connection TLS buffers, whatever the ingest does; a record in flight (received, not yet
// committed) costs ~0.65 KiB parsed. The bound holds when vehicles stay at or below
// vehicles_within_limit; the in-flight budget (ingest.max_inflight_*) keeps the records' share
// fixed however large the agents' backlogs are.
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_MEMORY_BUDGET_H_
#define CIT_DISPATCH_SERVER_MEMORY_BUDGET_H_

#include <cstdint>

#include "dispatch-server/server/dispatch_server.h"

namespace cit::dispatch {

// Measured on the storm bench (docs/benchmarks.md), rounded up.
inline constexpr int64_t kPerVehicleBytes = 120 << 10;
inline constexpr int64_t kPerInflightRecordBytes = 700;
// Process, libraries, SQLite page caches once warm, monitor state of an idle fleet.
inline constexpr int64_t kBaselineBytes = 200 << 20;

struct MemoryPlan {
  int64_t limit_bytes = 0;             // 0: no bound configured
  int64_t baseline_bytes = 0;          // kBaselineBytes
  int64_t inflight_records_bytes = 0;  // ingest.max_inflight_records x kPerInflightRecordBytes
  int64_t per_vehicle_bytes = 0;       // kPerVehicleBytes
  // Connected vehicles the rest of the limit leaves room for; -1 without a limit, 0 when the
  // baseline and the in-flight budget alone exceed it.
  int64_t vehicles_within_limit = -1;
};

MemoryPlan PlanMemory(const DispatchServerOptions& options);

// One info line (event=memory_budget) with the plan and the budgets it rests on. Compare
// vehicles_within_limit with the fleet size and telemetry.max_connections.
void LogMemoryPlan(const MemoryPlan& plan, const DispatchServerOptions& options);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MEMORY_BUDGET_H_
