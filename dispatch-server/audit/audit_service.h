// The Audit gRPC service (proto/cit/v1/dispatch.proto): run reports, exports, chain
// verification and raw tracks, read through an AuditSource.
//
//   auto service = std::make_unique<AuditService>(std::make_shared<StoreAuditSource>(...));
//   builder.RegisterService(service.get());     // on the operator port, behind operator auth
//
// Who may call what is decided by the operator auth processor (auth/operator_auth.h) before a
// handler runs; handlers only validate arguments and read.
//
// Thread contract: handlers run on gRPC's callback threads concurrently; the service holds no
// mutable state, and the AuditSource must be thread-safe. Reads are bounded by one run's or one
// vehicle's records, and run to completion inside the handler.
#ifndef CIT_DISPATCH_SERVER_AUDIT_AUDIT_SERVICE_H_
#define CIT_DISPATCH_SERVER_AUDIT_AUDIT_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/audit/audit_ledger.h"
#include "dispatch-server/audit/audit_source.h"

namespace cit::dispatch {

// The logic of each RPC without gRPC, for the service and for in-process callers.
class Auditor {
 public:
  // With a ledger, Verify checks records, plan log, alert events and checkpoints
  // (audit_ledger.h) and the checkpoint RPCs answer; without one, only the record chain.
  explicit Auditor(std::shared_ptr<AuditSource> source,
                   std::shared_ptr<AuditLedger> ledger = nullptr);

  absl::StatusOr<cit::v1::RunReport> Report(const std::string& run_id) const;
  absl::StatusOr<cit::v1::ExportRunResponse> Export(const cit::v1::ExportRunRequest& req) const;
  absl::StatusOr<cit::v1::VerifyChainResponse> Verify(const cit::v1::VerifyChainRequest& req) const;
  absl::StatusOr<cit::v1::GetTrackResponse> Track(const cit::v1::GetTrackRequest& req) const;
  absl::StatusOr<cit::v1::SignedCheckpoint> Checkpoint(
      const cit::v1::GetCheckpointRequest& req) const;
  absl::StatusOr<cit::v1::ListCheckpointsResponse> Checkpoints(
      const cit::v1::ListCheckpointsRequest& req) const;
  absl::StatusOr<cit::v1::ListIdentityEventsResponse> IdentityEvents(
      const cit::v1::ListIdentityEventsRequest& req) const;

 private:
  absl::StatusOr<cit::v1::VerifyChainResponse> VerifyIdentities(
      const cit::v1::VerifyChainRequest& req) const;

  std::shared_ptr<AuditSource> source_;
  std::shared_ptr<AuditLedger> ledger_;
};

class AuditService final : public cit::v1::Audit::CallbackService {
 public:
  explicit AuditService(std::shared_ptr<AuditSource> source,
                        std::shared_ptr<AuditLedger> ledger = nullptr);

  grpc::ServerUnaryReactor* GetRunReport(grpc::CallbackServerContext* context,
                                         const cit::v1::RunReportRequest* request,
                                         cit::v1::RunReport* response) override;
  grpc::ServerUnaryReactor* ExportRun(grpc::CallbackServerContext* context,
                                      const cit::v1::ExportRunRequest* request,
                                      cit::v1::ExportRunResponse* response) override;
  grpc::ServerUnaryReactor* VerifyChain(grpc::CallbackServerContext* context,
                                        const cit::v1::VerifyChainRequest* request,
                                        cit::v1::VerifyChainResponse* response) override;
  grpc::ServerUnaryReactor* GetTrack(grpc::CallbackServerContext* context,
                                     const cit::v1::GetTrackRequest* request,
                                     cit::v1::GetTrackResponse* response) override;
  grpc::ServerUnaryReactor* GetCheckpoint(grpc::CallbackServerContext* context,
                                          const cit::v1::GetCheckpointRequest* request,
                                          cit::v1::SignedCheckpoint* response) override;
  grpc::ServerUnaryReactor* ListCheckpoints(grpc::CallbackServerContext* context,
                                            const cit::v1::ListCheckpointsRequest* request,
                                            cit::v1::ListCheckpointsResponse* response) override;
  grpc::ServerUnaryReactor* ListIdentityEvents(
      grpc::CallbackServerContext* context, const cit::v1::ListIdentityEventsRequest* request,
      cit::v1::ListIdentityEventsResponse* response) override;

 private:
  Auditor auditor_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_AUDIT_SERVICE_H_
