// One Telemetry.Stream RPC on the server (gRPC callback API): reads Hello and RecordBatch
// messages, hands them to the IngestService, and writes Welcome, Ack and RecordRejected.
// Private to the ingest (ingest_service.h is the public face).
//
// The gRPC callback rules this class exists to get right (STYLE "gRPC traps"):
//  - one read and one write in flight: writes go through an outbox, started one at a time;
//    consecutive queued Acks collapse into the newest;
//  - Finish exactly once, also after OnCancel, and only when no write is in flight;
//  - reactions never block: batches go to the commit thread; acks come back from it;
//  - flow control: a read starts only within the stream's own cap and the global in-flight
//    budget (inflight_budget.h), against an estimate of what it brings; a stream over budget
//    waits in the budget's queue and is resumed by OnBudgetAdmitted;
//  - lifetime: the reactor holds a shared_ptr to itself until OnDone, and the commit thread
//    holds shared_ptrs to streams with queued work, so sends after OnDone are safe no-ops.
//
// Thread contract: reactions come from gRPC threads; Send/SendAck/End/OnSubmissionDone may be
// called from any thread. Lock order: IngestService::mu_ before TelemetryStream::mu_.
#ifndef CIT_DISPATCH_INGEST_TELEMETRY_STREAM_H_
#define CIT_DISPATCH_INGEST_TELEMETRY_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/ingest/inflight_budget.h"

namespace cit::dispatch {
class IngestService;
}  // namespace cit::dispatch

namespace cit::dispatch::internal {

class TelemetryStream final
    : public grpc::ServerBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage>,
      public BudgetWaiter,
      public std::enable_shared_from_this<TelemetryStream> {
 public:
  // `cert_vehicle` is the certificate's vehicle id, empty in identity-from-Hello mode.
  TelemetryStream(IngestService* service, std::string cert_vehicle, std::string peer);

  // Starts reading (or finishes at once with `early_status` when it is not OK).
  void Begin(std::shared_ptr<TelemetryStream> self, const grpc::Status& early_status);

  // Queues a message (dropped once the stream is ending without drain, or finished).
  void Send(cit::v1::ServerMessage message);
  // Queues Ack{through_seq} if it moves past what this stream has acknowledged.
  void SendAck(uint64_t through_seq);
  // Sets the starting point for SendAck (the Welcome's highest_stored_seq).
  void SetAcked(uint64_t seq);
  // `units` records of this stream were queued for commit (called before they are queued).
  void AddPending(size_t units);
  // The commit thread finished `units` records of this stream (committed or failed).
  void OnSubmissionDone(size_t units);
  // Ends the stream with `status` once queued writes are written (`drain_writes`) or at once.
  void End(const grpc::Status& status, bool drain_writes);
  // IngestService registered this stream as its vehicle's live one (Welcome queued), replacing
  // the stream given (or none); or could not (draining, takeover failed): the stream ends
  // UNAVAILABLE with that message. Reading resumes here (any thread, no lock held).
  void Registered(absl::StatusOr<std::shared_ptr<TelemetryStream>> replaced);

  const std::string& vehicle() const { return vehicle_; }
  const std::string& peer() const { return peer_; }

  // The budget reserved `reserved` for this stream's next read (any thread, no lock held).
  bool OnBudgetAdmitted(Reservation reserved) override;

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void HandleHello();
  // `reserved`: the budget estimate this read was admitted with (given back after the charge).
  void HandleBatch(Reservation reserved);
  // Frees everything the last read allocated in in_ (Clear() would keep it for reuse).
  void ReleaseRead();
  // Takes the current read's reservation (zero for the Hello read). Requires mu_.
  Reservation TakeReservationLocked();
  // Starts the next read unless the stream is ending or flow control pauses it. Requires mu_.
  void StartNextReadLocked();
  // Starts the next write or the deferred Finish. Requires mu_. gRPC never runs a reaction
  // inline from Start*/Finish, so calling them under mu_ cannot deadlock, and it makes "no
  // read or write after Finish" a simple flag check.
  void PumpLocked();

  IngestService* const service_;
  const std::string cert_vehicle_;
  const std::string peer_;
  std::string vehicle_;       // set by Hello; read-only afterwards
  bool hello_done_ = false;   // reaction thread only
  cit::v1::AgentMessage in_;  // reaction thread only (one read in flight)
  cit::v1::Hello hello_;      // set before RegisterLive, read by Registered

  std::mutex mu_;  // guards everything below
  std::shared_ptr<TelemetryStream> self_;
  std::deque<cit::v1::ServerMessage> outbox_;  // front is in flight while writing_
  bool writing_ = false;
  bool end_requested_ = false;
  bool finished_ = false;
  bool done_ = false;
  grpc::Status end_status_;
  uint64_t acked_ = 0;
  size_t pending_units_ = 0;
  bool read_paused_ = false;  // over the per-stream cap; resumed by OnSubmissionDone
  bool read_closed_ = false;
  bool reading_ = false;         // a read is posted
  bool budget_waiting_ = false;  // queued in the budget; resumed by OnBudgetAdmitted
  ReadEstimate estimate_;        // what the next read is expected to bring
  Reservation reserved_;         // what the posted read holds in the budget
};

}  // namespace cit::dispatch::internal

#endif  // CIT_DISPATCH_INGEST_TELEMETRY_STREAM_H_
