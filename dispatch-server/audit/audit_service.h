// The Audit gRPC service (proto/cit/v1/dispatch.proto): run reports, exports, chain
// verification and raw tracks, read through an AuditSource.
//
//   auto service = std::make_unique<AuditService>(std::make_shared<StoreAuditSource>(...));
//   builder.RegisterService(service.get());     // on the operator port, behind operator auth
//
// Who may call what is decided by the operator auth processor (auth/operator_auth.h) before a
// handler runs; handlers only validate arguments and read.
//
// Long reads stream: StreamExport and StreamTrack read the store one page at a time and write
// one part per message, the next read only once gRPC has taken the previous message (flow
// control: a slow client holds one part on the server, not the run). A client that goes away
// ends its stream at the next write. At most `max_streams` run at once; more are refused with
// RESOURCE_EXHAUSTED. The unary ExportRun and GetTrack answer up to a few MiB (GetTrack pages)
// and point to the streams for more (docs/protocol.md, "Reading long tracks"). GetRunReport
// reads the run's records once (AuditSource::ForEachRecord) and keeps none.
//
// Unary calls are answered from two threads of the service's own (BlockingCalls), never on
// gRPC's callback threads, which carry the port's other calls too (operators' alert streams):
// a verify of a whole vehicle on PostgreSQL reads for seconds. At most 64 wait; beyond that
// RESOURCE_EXHAUSTED ("retry in a minute").
//
// Thread contract: handlers run concurrently (streams on gRPC's callback threads, unary calls
// on the service's threads); the service's mutable state is the atomic stream count and the
// call queue, and the AuditSource must be thread-safe.
#ifndef CIT_DISPATCH_SERVER_AUDIT_AUDIT_SERVICE_H_
#define CIT_DISPATCH_SERVER_AUDIT_AUDIT_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/audit/audit_ledger.h"
#include "dispatch-server/audit/audit_source.h"
#include "dispatch-server/audit/period_report.h"
#include "dispatch-server/audit/track_export.h"
#include "dispatch-server/common/blocking_calls.h"

namespace cit::dispatch {

// The logic of each RPC without gRPC, for the service and for in-process callers.
class Auditor {
 public:
  // Records per store read of the long reads, and the most a unary call returns.
  static constexpr std::size_t kPageRecords = 1000;
  static constexpr std::size_t kMaxTrackPageRecords = 5000;
  static constexpr std::size_t kMaxTrackPageBytes = 3u << 20;
  static constexpr std::size_t kMaxUnaryExportBytes = 3u << 20;

  // With a ledger, Verify checks records, plan log, alert events and checkpoints
  // (audit_ledger.h) and the checkpoint RPCs answer; without one, only the record chain.
  explicit Auditor(std::shared_ptr<AuditSource> source,
                   std::shared_ptr<AuditLedger> ledger = nullptr);

  absl::StatusOr<cit::v1::RunReport> Report(const std::string& run_id) const;
  absl::StatusOr<cit::v1::ExportRunResponse> Export(const cit::v1::ExportRunRequest& req) const;
  absl::StatusOr<cit::v1::VerifyChainResponse> Verify(const cit::v1::VerifyChainRequest& req) const;
  absl::StatusOr<cit::v1::GetTrackResponse> Track(const cit::v1::GetTrackRequest& req) const;
  // The export of any length, ready to be read part by part.
  absl::StatusOr<std::unique_ptr<ExportStream>> OpenExport(
      const cit::v1::ExportRunRequest& req) const;
  // The records a GetTrack request names, pinned to the vehicle's current chain length.
  absl::StatusOr<TrackRange> TrackRangeFor(const cit::v1::GetTrackRequest& req) const;
  const std::shared_ptr<AuditSource>& source_ptr() const { return source_; }

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
  static constexpr int kDefaultMaxStreams = 4;

  explicit AuditService(std::shared_ptr<AuditSource> source,
                        std::shared_ptr<AuditLedger> ledger = nullptr,
                        int max_streams = kDefaultMaxStreams);

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

  grpc::ServerUnaryReactor* GetPeriodReport(grpc::CallbackServerContext* context,
                                            const cit::v1::PeriodReportRequest* request,
                                            cit::v1::PeriodReport* response) override;

  // The period report's builder; without one GetPeriodReport answers UNIMPLEMENTED.
  void SetPeriodReporter(std::shared_ptr<PeriodReporter> reporter) {
    period_reporter_ = std::move(reporter);
  }

  grpc::ServerWriteReactor<cit::v1::ExportRunResponse>* StreamExport(
      grpc::CallbackServerContext* context, const cit::v1::ExportRunRequest* request) override;
  grpc::ServerWriteReactor<cit::v1::GetTrackResponse>* StreamTrack(
      grpc::CallbackServerContext* context, const cit::v1::GetTrackRequest* request) override;

  // Streams running now (tests wait for a cancelled one to be gone).
  int active_streams() const { return active_streams_.load(); }

 private:
  // A slot for one more stream, or false when max_streams run already.
  bool AcquireStream();

  // Unary calls run on calls_ (common/blocking_calls.h): a verify of a whole vehicle or a
  // period report may read the database for seconds, and gRPC's callback threads also carry
  // the operators' live alert streams on this port.
  static constexpr int kCallThreads = 2;
  static constexpr size_t kMaxQueuedCalls = 64;

  Auditor auditor_;
  std::shared_ptr<PeriodReporter> period_reporter_;
  const int max_streams_;
  std::atomic<int> active_streams_{0};
  BlockingCalls calls_;  // last: stopped (queued calls run) before the rest goes
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_AUDIT_SERVICE_H_
