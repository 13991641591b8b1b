#include "dispatch-server/api/dispatch_service.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "dispatch-server/api/fleet_watch.h"
#include "dispatch-server/api/operator_identity.h"
#include "dispatch-server/common/grpc_status.h"

namespace cit::dispatch {
namespace {

grpc::Status Reply(absl::StatusOr<cit::v1::Run> run, cit::v1::Run* resp) {
  if (!run.ok()) return ToGrpcStatus(run.status());
  *resp = std::move(*run);
  return grpc::Status::OK;
}

}  // namespace

absl::Status DispatchService::CheckVehicle(const cit::v1::RunPlan& plan, bool allow_unknown) const {
  if (!vehicle_known_ || allow_unknown || plan.vehicle_id().empty()) return absl::OkStatus();
  // A vehicle an earlier plan named was accepted then (perhaps forced): known since.
  if (!runs_->List(plan.vehicle_id(), {}).empty()) return absl::OkStatus();
  absl::StatusOr<bool> known = vehicle_known_(plan.vehicle_id());
  if (!known.ok()) return known.status();
  if (*known) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "vehicle_id: vehicle '", plan.vehicle_id(),
      "' has never been seen by this server (no stored record, no earlier run): check the id, "
      "or force it (dispatchctl plan create --force; allow_unknown_vehicle) for a new truck"));
}

grpc::Status DispatchService::CreateRun(grpc::ServerContext* ctx,
                                        const cit::v1::CreateRunRequest* req, cit::v1::Run* resp) {
  if (absl::Status s = CheckVehicle(req->plan(), req->allow_unknown_vehicle()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return Reply(runs_->Create(req->plan(), ActorOf(*ctx)), resp);
}

grpc::Status DispatchService::UpdateRun(grpc::ServerContext* ctx,
                                        const cit::v1::UpdateRunRequest* req, cit::v1::Run* resp) {
  if (absl::Status s = CheckVehicle(req->plan(), req->allow_unknown_vehicle()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return Reply(runs_->Update(req->plan(), ActorOf(*ctx), req->comment()), resp);
}

grpc::Status DispatchService::DispatchRun(grpc::ServerContext* ctx,
                                          const cit::v1::DispatchRunRequest* req,
                                          cit::v1::Run* resp) {
  return Reply(runs_->Dispatch(req->run_id(), ActorOf(*ctx)), resp);
}

grpc::Status DispatchService::AbortRun(grpc::ServerContext* ctx, const cit::v1::EndRunRequest* req,
                                       cit::v1::Run* resp) {
  return Reply(runs_->Abort(req->run_id(), req->comment(), ActorOf(*ctx)), resp);
}

grpc::Status DispatchService::CompleteRun(grpc::ServerContext* ctx,
                                          const cit::v1::EndRunRequest* req, cit::v1::Run* resp) {
  return Reply(runs_->Complete(req->run_id(), req->comment(), ActorOf(*ctx)), resp);
}

grpc::Status DispatchService::GetRun(grpc::ServerContext*, const cit::v1::GetRunRequest* req,
                                     cit::v1::Run* resp) {
  return Reply(runs_->Get(req->run_id()), resp);
}

grpc::Status DispatchService::GetRunHistory(grpc::ServerContext*, const cit::v1::GetRunRequest* req,
                                            cit::v1::RunHistory* resp) {
  absl::StatusOr<cit::v1::RunHistory> history = runs_->History(req->run_id());
  if (!history.ok()) return ToGrpcStatus(history.status());
  *resp = *std::move(history);
  return grpc::Status::OK;
}

grpc::Status DispatchService::ListRuns(grpc::ServerContext*, const cit::v1::ListRunsRequest* req,
                                       cit::v1::ListRunsResponse* resp) {
  std::vector<cit::v1::RunState> states;
  for (int s : req->states()) states.push_back(static_cast<cit::v1::RunState>(s));
  if (req->view() != cit::v1::RUN_VIEW_UNSPECIFIED && req->view() != cit::v1::RUN_VIEW_SUMMARY &&
      req->view() != cit::v1::RUN_VIEW_FULL) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "view: must be RUN_VIEW_SUMMARY or RUN_VIEW_FULL");
  }
  if (req->page_size() > kMaxListRunsPageSize) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_size: at most ", kMaxListRunsPageSize,
                                     " (0 = ", kDefaultListRunsPageSize, ")"));
  }
  const std::size_t page_size = req->page_size() == 0 ? kDefaultListRunsPageSize : req->page_size();
  RunManager::Page page =
      runs_->ListPage(req->vehicle_id(), states, req->page_token(), page_size,
                      req->view() == cit::v1::RUN_VIEW_FULL, kMaxListRunsFullPageBytes);
  for (cit::v1::Run& run : page.runs) *resp->add_runs() = std::move(run);
  resp->set_next_page_token(std::move(page.next_after));
  return grpc::Status::OK;
}

grpc::Status DispatchService::GetFleet(grpc::ServerContext*, const cit::v1::GetFleetRequest*,
                                       cit::v1::Fleet* resp) {
  *resp = fleet_feed_->Snapshot();
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<cit::v1::VehicleState>* DispatchService::WatchFleet(
    grpc::CallbackServerContext*, const cit::v1::WatchFleetRequest* req) {
  return NewFleetWatch(fleet_feed_, *req);
}

}  // namespace cit::dispatch
