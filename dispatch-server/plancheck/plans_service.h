// The Plans gRPC service (proto/cit/v1/dispatch.proto): CheckPlan, a plan evaluated against a
// track by the server's own rule engine without storing or publishing anything (plan_check.h).
//
//   PlansService plans({.get_run = [&](const std::string& id) { return runs.Get(id); },
//                       .run_records = ...});        // a stored run's records, seq order
//   builder.AddOperatorService(&plans);               // roles: dispatcher, auditor, admin
//
// Sync API on purpose: reading a stored run's records blocks on SQLite, which callback
// reactions must not do (STYLE.md); evaluation itself is CPU-bound (a day at 1 Hz takes tens
// of milliseconds, docs/benchmarks.md).
//
// Every refused request (bad plan, bad track, too large, unknown run) is counted in
// cit_plan_checks_total{result="refused"}, every answered one in result="ok".
//
// Thread contract: thread-safe; the two functions must be, too.
#ifndef CIT_DISPATCH_SERVER_PLANCHECK_PLANS_SERVICE_H_
#define CIT_DISPATCH_SERVER_PLANCHECK_PLANS_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/rules/rule_policy.h"

namespace cit::dispatch {

struct PlansServiceDeps {
  // A stored run (NOT_FOUND when there is none).
  std::function<absl::StatusOr<cit::v1::Run>(const std::string& run_id)> get_run;
  // Every stored record of a run's vehicle within the run (audit's run window), seq order.
  std::function<absl::StatusOr<std::vector<cit::v1::Record>>(const cit::v1::Run& run)> run_records;
  // May be null (tests).
  std::shared_ptr<MetricsRegistry> metrics;
  // The server's [rules] settings, which the live monitor uses too.
  RulePolicy rules;
};

// The logic without gRPC, for the service and in-process callers (tests, benchmark).
absl::StatusOr<cit::v1::CheckPlanResponse> HandleCheckPlan(const PlansServiceDeps& deps,
                                                           const cit::v1::CheckPlanRequest& req);

class PlansService final : public cit::v1::Plans::Service {
 public:
  explicit PlansService(PlansServiceDeps deps);

  grpc::Status CheckPlan(grpc::ServerContext* ctx, const cit::v1::CheckPlanRequest* req,
                         cit::v1::CheckPlanResponse* resp) override;

 private:
  PlansServiceDeps deps_;
  Counter* ok_ = nullptr;
  Counter* refused_ = nullptr;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANCHECK_PLANS_SERVICE_H_
