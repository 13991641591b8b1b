#include "dispatch-server/audit/audit_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "dispatch-server/audit/run_report.h"
#include "dispatch-server/audit/track_export.h"
#include "dispatch-server/auth/operator_auth.h"
#include "dispatch-server/common/grpc_status.h"

namespace cit::dispatch {
namespace {

template <typename T, typename Fn>
grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context, T* response, Fn&& fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<T> result = fn();
  if (result.ok()) {
    *response = *std::move(result);
    reactor->Finish(grpc::Status::OK);
  } else {
    reactor->Finish(ToGrpcStatus(result.status()));
  }
  return reactor;
}

absl::Status RequireRunId(const std::string& run_id) {
  if (run_id.empty()) return absl::InvalidArgumentError("run_id: required");
  return absl::OkStatus();
}

}  // namespace

Auditor::Auditor(std::shared_ptr<AuditSource> source, std::shared_ptr<AuditLedger> ledger)
    : source_(std::move(source)), ledger_(std::move(ledger)) {}

absl::StatusOr<cit::v1::RunReport> Auditor::Report(const std::string& run_id) const {
  if (auto s = RequireRunId(run_id); !s.ok()) return s;
  absl::StatusOr<cit::v1::Run> run = source_->GetRun(run_id);
  if (!run.ok()) return run.status();
  auto [from, to] = RunWindow(*run);
  auto records = source_->VehicleRecords(run->plan().vehicle_id(), from, to);
  if (!records.ok()) return records.status();
  auto alerts = source_->RunAlerts(run_id);
  if (!alerts.ok()) return alerts.status();
  cit::v1::RunReport report = BuildRunReport(*run, *records, *std::move(alerts));
  // The head of the run's own records: what an auditor signs off; `verify` checks all of them.
  if (!records->empty()) report.set_chain_head(records->back().chain_hash());
  return report;
}

absl::StatusOr<cit::v1::ExportRunResponse> Auditor::Export(
    const cit::v1::ExportRunRequest& req) const {
  if (auto s = RequireRunId(req.run_id()); !s.ok()) return s;
  absl::StatusOr<cit::v1::Run> run = source_->GetRun(req.run_id());
  if (!run.ok()) return run.status();
  auto [from, to] = RunWindow(*run);
  auto records = source_->VehicleRecords(run->plan().vehicle_id(), from, to);
  if (!records.ok()) return records.status();
  auto alerts = source_->RunAlerts(req.run_id());
  if (!alerts.ok()) return alerts.status();
  return ExportRunTrack(req.format(), *run, *records, *alerts);
}

absl::StatusOr<cit::v1::VerifyChainResponse> Auditor::Verify(
    const cit::v1::VerifyChainRequest& req) const {
  std::string vehicle;
  std::string run_id;
  switch (req.target_case()) {
    case cit::v1::VerifyChainRequest::kRunId: {
      absl::StatusOr<cit::v1::Run> run = source_->GetRun(req.run_id());
      if (run.ok()) {
        vehicle = run->plan().vehicle_id();
      } else if (run.status().code() == absl::StatusCode::kNotFound && ledger_) {
        // Unknown to the server, but in the plan log: its rows were deleted. Verify it.
        absl::StatusOr<std::string> logged = ledger_->LoggedRunVehicle(req.run_id());
        if (!logged.ok()) return run.status();
        vehicle = *std::move(logged);
      } else {
        return run.status();
      }
      run_id = req.run_id();
      break;
    }
    case cit::v1::VerifyChainRequest::kVehicleId:
      vehicle = req.vehicle_id();
      break;
    case cit::v1::VerifyChainRequest::kIdentities:
      return VerifyIdentities(req);
    case cit::v1::VerifyChainRequest::TARGET_NOT_SET:
      break;
  }
  if (vehicle.empty()) return absl::InvalidArgumentError("target: run_id or vehicle_id required");
  if (ledger_) {
    absl::StatusOr<cit::v1::VerifyChainResponse> v =
        ledger_->Verify(vehicle, run_id, req.has_checkpoint() ? &req.checkpoint() : nullptr);
    if (v.ok() && !v->intact()) {
      spdlog::warn("event=audit_verify_broken target={} problem=\"{}\"",
                   run_id.empty() ? vehicle : run_id, v->problem());
    }
    return v;
  }
  absl::StatusOr<ChainCheck> check = source_->VerifyChain(vehicle);
  if (!check.ok()) return check.status();
  cit::v1::VerifyChainResponse out;
  out.set_intact(check->intact);
  out.set_records_checked(check->records_checked);
  out.set_vehicle_id(vehicle);
  out.set_first_bad_seq(check->intact ? 0 : check->first_bad_seq);
  out.set_problem(check->problem);
  out.set_chain_head(check->head_hex);
  if (!check->intact) {
    spdlog::warn("audit: hash chain of {} broken at seq {}: {}", vehicle, check->first_bad_seq,
                 check->problem);
  }
  return out;
}

absl::StatusOr<cit::v1::VerifyChainResponse> Auditor::VerifyIdentities(
    const cit::v1::VerifyChainRequest& req) const {
  if (!req.identities()) {
    return absl::InvalidArgumentError("identities: must be true (or give run_id or vehicle_id)");
  }
  if (!ledger_) return absl::UnimplementedError("the identity log is not kept on this server");
  absl::StatusOr<cit::v1::VerifyChainResponse> v =
      ledger_->VerifyIdentities(req.has_checkpoint() ? &req.checkpoint() : nullptr);
  if (v.ok() && !v->intact()) {
    spdlog::warn("event=audit_verify_broken target=identities problem=\"{}\"", v->problem());
  }
  return v;
}

absl::StatusOr<cit::v1::ListIdentityEventsResponse> Auditor::IdentityEvents(
    const cit::v1::ListIdentityEventsRequest& req) const {
  if (!ledger_) return absl::UnimplementedError("the identity log is not kept on this server");
  return ledger_->ListIdentityEvents(req);
}

absl::StatusOr<cit::v1::GetTrackResponse> Auditor::Track(
    const cit::v1::GetTrackRequest& req) const {
  std::string vehicle = req.vehicle_id();
  std::optional<google::protobuf::Timestamp> from;
  std::optional<google::protobuf::Timestamp> to;
  if (!req.run_id().empty()) {
    absl::StatusOr<cit::v1::Run> run = source_->GetRun(req.run_id());
    if (!run.ok()) return run.status();
    vehicle = run->plan().vehicle_id();
    std::tie(from, to) = RunWindow(*run);
  } else {
    if (vehicle.empty()) return absl::InvalidArgumentError("run_id or vehicle_id: required");
    if (req.has_from()) from = req.from();
    if (req.has_to()) to = req.to();
  }
  auto records = source_->VehicleRecords(vehicle, from, to);
  if (!records.ok()) return records.status();
  cit::v1::GetTrackResponse out;
  for (auto& r : *records) *out.add_records() = std::move(r);
  return out;
}

absl::StatusOr<cit::v1::SignedCheckpoint> Auditor::Checkpoint(
    const cit::v1::GetCheckpointRequest& req) const {
  if (!ledger_) return absl::UnimplementedError("checkpoints are not configured on this server");
  return ledger_->GetCheckpoint(req.checkpoint_id());
}

absl::StatusOr<cit::v1::ListCheckpointsResponse> Auditor::Checkpoints(
    const cit::v1::ListCheckpointsRequest& req) const {
  if (!ledger_) return absl::UnimplementedError("checkpoints are not configured on this server");
  return ledger_->ListCheckpoints(req.after_id(), req.limit());
}

AuditService::AuditService(std::shared_ptr<AuditSource> source, std::shared_ptr<AuditLedger> ledger)
    : auditor_(std::move(source), std::move(ledger)) {}

grpc::ServerUnaryReactor* AuditService::GetRunReport(grpc::CallbackServerContext* context,
                                                     const cit::v1::RunReportRequest* request,
                                                     cit::v1::RunReport* response) {
  return Respond(context, response, [&] { return auditor_.Report(request->run_id()); });
}

grpc::ServerUnaryReactor* AuditService::ExportRun(grpc::CallbackServerContext* context,
                                                  const cit::v1::ExportRunRequest* request,
                                                  cit::v1::ExportRunResponse* response) {
  return Respond(context, response, [&] { return auditor_.Export(*request); });
}

grpc::ServerUnaryReactor* AuditService::VerifyChain(grpc::CallbackServerContext* context,
                                                    const cit::v1::VerifyChainRequest* request,
                                                    cit::v1::VerifyChainResponse* response) {
  return Respond(context, response, [&]() -> absl::StatusOr<cit::v1::VerifyChainResponse> {
    auto result = auditor_.Verify(*request);
    if (result.ok()) {
      spdlog::info("audit: {} verified chain of {}: {}", ActorName(*context), result->vehicle_id(),
                   result->intact() ? "intact" : "BROKEN");
    }
    return result;
  });
}

grpc::ServerUnaryReactor* AuditService::GetTrack(grpc::CallbackServerContext* context,
                                                 const cit::v1::GetTrackRequest* request,
                                                 cit::v1::GetTrackResponse* response) {
  return Respond(context, response, [&] { return auditor_.Track(*request); });
}

grpc::ServerUnaryReactor* AuditService::GetCheckpoint(grpc::CallbackServerContext* context,
                                                      const cit::v1::GetCheckpointRequest* request,
                                                      cit::v1::SignedCheckpoint* response) {
  return Respond(context, response, [&] { return auditor_.Checkpoint(*request); });
}

grpc::ServerUnaryReactor* AuditService::ListCheckpoints(
    grpc::CallbackServerContext* context, const cit::v1::ListCheckpointsRequest* request,
    cit::v1::ListCheckpointsResponse* response) {
  return Respond(context, response, [&] { return auditor_.Checkpoints(*request); });
}

grpc::ServerUnaryReactor* AuditService::ListIdentityEvents(
    grpc::CallbackServerContext* context, const cit::v1::ListIdentityEventsRequest* request,
    cit::v1::ListIdentityEventsResponse* response) {
  return Respond(context, response, [&] { return auditor_.IdentityEvents(*request); });
}

}  // namespace cit::dispatch
