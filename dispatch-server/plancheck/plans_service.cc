#include "dispatch-server/plancheck/plans_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "dispatch-server/api/operator_identity.h"
#include "dispatch-server/common/grpc_status.h"
#include "dispatch-server/plancheck/check_track.h"
#include "dispatch-server/plancheck/plan_check.h"
#include "dispatch-server/plans/plan_validation.h"

namespace cit::dispatch {
namespace {

// The run to judge against: the submitted plan (validated as CreateRun would) or a stored
// run's current version.
absl::StatusOr<cit::v1::Run> PlanRun(const PlansServiceDeps& deps,
                                     const cit::v1::CheckPlanRequest& req) {
  switch (req.plan_source_case()) {
    case cit::v1::CheckPlanRequest::kPlan: {
      if (absl::Status s = ValidateRunPlan(req.plan()); !s.ok()) return s;
      cit::v1::Run run;
      *run.mutable_plan() = req.plan();
      return run;
    }
    case cit::v1::CheckPlanRequest::kPlanRunId:
      return deps.get_run(req.plan_run_id());
    case cit::v1::CheckPlanRequest::PLAN_SOURCE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("plan: give a plan or plan_run_id");
}

absl::StatusOr<std::vector<cit::v1::Record>> Records(const PlansServiceDeps& deps,
                                                     const cit::v1::CheckPlanRequest& req,
                                                     const std::string& vehicle_id) {
  switch (req.track_source_case()) {
    case cit::v1::CheckPlanRequest::kTrack:
      return TrackRecords(req.track(), vehicle_id);
    case cit::v1::CheckPlanRequest::kTrackRunId: {
      absl::StatusOr<cit::v1::Run> run = deps.get_run(req.track_run_id());
      if (!run.ok()) return run.status();
      absl::StatusOr<std::vector<cit::v1::Record>> records = deps.run_records(*run);
      if (!records.ok()) return records.status();
      if (records->size() > kMaxCheckRecords) {
        return absl::InvalidArgumentError(
            absl::StrCat("track_run_id: run ", req.track_run_id(), " has ", records->size(),
                         " records; at most ", kMaxCheckRecords, " can be checked at once"));
      }
      if (records->empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("track_run_id: run ", req.track_run_id(), " has no stored records"));
      }
      return records;
    }
    case cit::v1::CheckPlanRequest::TRACK_SOURCE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("track: give a track or track_run_id");
}

}  // namespace

absl::StatusOr<cit::v1::CheckPlanResponse> HandleCheckPlan(const PlansServiceDeps& deps,
                                                           const cit::v1::CheckPlanRequest& req) {
  absl::StatusOr<cit::v1::Run> run = PlanRun(deps, req);
  if (!run.ok()) return run.status();
  absl::StatusOr<std::vector<cit::v1::Record>> records =
      Records(deps, req, run->plan().vehicle_id());
  if (!records.ok()) return records.status();
  absl::StatusOr<cit::v1::CheckPlanResponse> out = CheckPlan(*run, *records, deps.rules);
  if (!out.ok()) return out.status();
  if (req.plan_source_case() == cit::v1::CheckPlanRequest::kPlanRunId) {
    out->set_plan_run_id(req.plan_run_id());
  } else {
    out->set_plan_version(0);
  }
  return out;
}

PlansService::PlansService(PlansServiceDeps deps) : deps_(std::move(deps)) {
  if (deps_.metrics) {
    const char* help = "Plan checks (CheckPlan), answered or refused (bad plan or track)";
    ok_ = &deps_.metrics->GetCounter("cit_plan_checks_total", help, {{"result", "ok"}});
    refused_ = &deps_.metrics->GetCounter("cit_plan_checks_total", help, {{"result", "refused"}});
  }
}

grpc::Status PlansService::CheckPlan(grpc::ServerContext* ctx, const cit::v1::CheckPlanRequest* req,
                                     cit::v1::CheckPlanResponse* resp) {
  absl::StatusOr<cit::v1::CheckPlanResponse> out = HandleCheckPlan(deps_, *req);
  if (!out.ok()) {
    if (refused_) refused_->Increment();
    spdlog::info("event=plan_check_refused actor={} error=\"{}\"", ActorOf(*ctx),
                 std::string(out.status().message()));
    return ToGrpcStatus(out.status());
  }
  if (ok_) ok_->Increment();
  spdlog::info("event=plan_check actor={} records={} alerts={} evaluate_s={:.3f}", ActorOf(*ctx),
               out->records(), out->alerts_size(), out->evaluate_s());
  *resp = *std::move(out);
  return grpc::Status::OK;
}

}  // namespace cit::dispatch
