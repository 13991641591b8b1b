// The telemetry ingest (DESIGN §4): the Telemetry.Stream gRPC service (callback API), edge
// validation, de-duplication by (vehicle, seq), fan-out of accepted records to observers (the
// monitor), group commit into the Store on one commit thread, acknowledgements after commit.
//
//   IngestService ingest(store.get(), &metrics, IngestOptions{});
//   ingest.AddObserver(&monitor);               // before Start
//   if (absl::Status s = ingest.Start(); !s.ok()) return s;
//   grpc::ServerBuilder b; b.RegisterService(&ingest); ...
//   ...                                         // on SIGTERM:
//   ingest.Drain();                             // commit what was received, ack, end streams
//   server->Shutdown(deadline);
//   ingest.Stop();
//
// Delivery contract, per vehicle (docs/protocol.md):
//  - Hello -> Welcome{highest_stored_seq = W}, W = highest seq such that every seq <= W is
//    stored, rejected-and-logged, or declared gone by the agent (Hello.first_unacked_seq > W+1).
//  - A RecordBatch with covers_from_seq = F declares every seq in [F, last seq of the batch] that
//    the batch does not hold as gone (thinned from a full journal); those gaps are stored with
//    the batch so W can pass them. Ignored on urgent batches.
//  - Each record is validated; a refused record is logged in the store's reject table in the
//    same group commit as its neighbours, then reported with RecordRejected; it counts as handled.
//  - A seq already stored or queued is a duplicate: dropped and counted.
//  - Ack{through_seq = W} is sent after the commit that moved W, to the vehicle's live stream.
//  - One live stream per vehicle: a new stream replaces the old one, which ends ABORTED.
//  - Identity: the client certificate's CN (else first SAN); with identity_from_hello
//    (--insecure-dev) the Hello's vehicle_id.
//
// Thread contract: gRPC reactions run on gRPC's threads and never block on disk; observers are
// called there, under the vehicle table lock (see RecordObserver); all store writes happen on
// the single commit thread. Start/Drain/Stop from one owner.
#ifndef CIT_DISPATCH_INGEST_INGEST_SERVICE_H_
#define CIT_DISPATCH_INGEST_INGEST_SERVICE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/common/refusal_log.h"
#include "dispatch-server/ingest/inflight_budget.h"
#include "dispatch-server/ingest/record_validator.h"
#include "dispatch-server/ingest/vehicle_takeover.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/store/committed_record.h"
#include "dispatch-server/store/store.h"

namespace cit::dispatch {

namespace internal {
class TelemetryStream;
}  // namespace internal

struct IngestOptions {
  // Longest a received record waits before its group commit starts.
  std::chrono::milliseconds group_commit_delay{50};
  // Commit as soon as this many records (and rejects) are queued; 1 = whenever the previous
  // commit is done (lowest latency; batches still grow under load while a commit runs).
  size_t group_commit_records = 1;
  // Largest RecordBatch accepted, in records (sent in Welcome) and in serialized bytes; a larger
  // batch ends its stream with RESOURCE_EXHAUSTED (CheckBatchSize).
  uint32_t max_batch_records = 1000;
  size_t max_batch_bytes = 1 << 20;
  // Flow control: a stream stops reading while this many of its records await commit.
  size_t max_pending_records_per_stream = 20'000;
  // Flow control across all streams (inflight_budget.h): records and bytes received and not
  // yet committed. Over it, streams stop reading (first come, first resumed); never dropped.
  InflightBudgetOptions budget;
  // Largest group commit, in records (and rejects): one transaction never holds the whole
  // queue, and acks flow after each capped commit.
  size_t max_commit_records = 20'000;
  ValidationLimits limits;
  // --insecure-dev: no client certificates; the vehicle id comes from Hello.
  bool identity_from_hello = false;
  // Several instances on one database: take each vehicle over (Store::TakeOwnership) when its
  // stream opens, before the Welcome says what is stored.
  bool take_ownership = false;
  // Told each takeover (vehicle, fencing token) on the takeover thread, before the Welcome and
  // so before any record of the new stream (server/ownership_follower.h). Must not block long.
  std::function<void(const std::string& vehicle, uint64_t fencing_token)> on_taken_over;
  // Drain(): how long to wait for the last commit and acks.
  std::chrono::milliseconds drain_timeout{5000};
};

class IngestService final : public cit::v1::Telemetry::CallbackService {
 public:
  // `store` and `metrics` must outlive the service.
  IngestService(Store* store, MetricsRegistry* metrics, IngestOptions options);
  ~IngestService() override;
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;
  IngestService(IngestService&&) = delete;
  IngestService& operator=(IngestService&&) = delete;

  // Not owned; must outlive the service. Call before Start().
  void AddObserver(RecordObserver* observer);
  // Loads every vehicle's watermark from the store and starts the commit thread.
  absl::Status Start();
  // Stops taking new streams and batches, commits everything already received, sends the
  // acks, then ends every stream with UNAVAILABLE (agents reconnect to another instance or
  // retry). Records that arrive after this point are not acknowledged (agents resend them).
  void Drain();
  // Commits anything left and joins the commit thread. Call after the gRPC server shut down.
  void Stop();

  // Vehicles with a live stream.
  size_t ConnectedVehicles() const;
  // The outcome of the latest store commit (e.g. disk full): health reports not serving while
  // commits fail. Any thread.
  absl::Status LastCommitStatus() const;
  const IngestOptions& options() const { return options_; }
  // Records and bytes in flight, waiting streams (metrics, tests).
  BudgetStats BudgetSnapshot() const { return budget_.Stats(); }

  grpc::ServerBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage>* Stream(
      grpc::CallbackServerContext* context) override;

 private:
  friend class internal::TelemetryStream;
  using StreamPtr = std::shared_ptr<internal::TelemetryStream>;

  struct VehicleState {
    uint64_t watermark = 0;         // committed contiguous seq (the store's)
    std::set<uint64_t> seen_above;  // seqs above watermark that are committed or queued
    // Seqs given to observers whose commit failed: the agent resends them; they are stored
    // then, but not observed twice.
    std::set<uint64_t> observed_unstored;
    StreamPtr live;  // the vehicle's current stream, if any

    // Moves the watermark up to the store's (`stored`, when known) and forgets what it passed.
    void CatchUp(const absl::StatusOr<uint64_t>& stored) {
      if (!stored.ok() || *stored <= watermark) return;
      watermark = *stored;
      seen_above.erase(seen_above.begin(), seen_above.upper_bound(watermark));
      observed_unstored.erase(observed_unstored.begin(), observed_unstored.upper_bound(watermark));
    }
  };
  // One unit of work for the commit thread: what one stream read in one message.
  struct Submission {
    StreamPtr stream;
    std::string vehicle_id;
    std::vector<CommittedRecord> records;
    std::vector<RejectedRecord> rejects;
    std::vector<SeqGap> gaps;
    std::chrono::steady_clock::time_point received;
    size_t bytes = 0;  // serialized bytes charged to the in-flight budget
    size_t units() const { return records.size() + rejects.size(); }
  };
  struct Metrics;

  // Called by streams (see telemetry_stream.cc). Never block.
  // Registers `stream` as the vehicle's live stream and queues its Welcome, then calls
  // stream->Registered with the replaced stream (if any) or why it cannot (draining, or the
  // takeover failed). With take_ownership that happens later, on the takeover thread.
  void RegisterLive(const std::string& vehicle, const StreamPtr& stream,
                    const cit::v1::Hello& hello);
  // Refuses a batch above max_batch_records or max_batch_bytes before any per-record work
  // (the count is checked first, the byte size is computed once, into *bytes): the stream ends
  // with RESOURCE_EXHAUSTED naming the limit, nothing of the batch is acknowledged. OK
  // otherwise.
  grpc::Status CheckBatchSize(const std::string& vehicle, const cit::v1::RecordBatch& batch,
                              size_t* bytes);
  // Validates, de-duplicates, hands accepted records to the observers and queues one batch
  // (charging it, `bytes` serialized, to the in-flight budget); returns the units queued (0:
  // nothing to commit). `accepting` is false once draining (nothing queued, nothing
  // acknowledged). `urgent`: AgentMessage.urgent (no gap claims).
  size_t SubmitBatch(const StreamPtr& stream, const std::string& vehicle,
                     cit::v1::RecordBatch* batch, size_t bytes, bool urgent, bool* accepting);
  InflightBudget& budget() { return budget_; }
  // The gaps a batch's covers_from_seq declares: seqs in [F, last] missing from the batch.
  // Empty when F is unset or inconsistent with the batch (counted as a protocol error).
  std::vector<SeqGap> DeclaredGaps(const std::string& vehicle, const cit::v1::RecordBatch& batch);
  // Counts and logs (one line per batch) the gaps a batch declared. Called without mu_.
  void LogGaps(const std::string& vehicle, const std::vector<SeqGap>& gaps);
  // Hands the records accepted from one batch to every observer (mu_ held).
  void Observe(VehicleState& v, const std::vector<CommittedRecord>& records);
  void Unregister(internal::TelemetryStream* stream, const std::string& vehicle);
  // A Hello that claims another vehicle than its certificate: counted; true when the caller
  // may log it (rate-limited, see common/refusal_log.h).
  bool RefuseIdentityMismatch();
  void CountProtocolError();

  void CommitLoop();
  // RegisterLive's work once the vehicle is this instance's; `taken_over`: its stored state was
  // just reloaded from the database (another instance may have written).
  absl::StatusOr<StreamPtr> FinishRegistration(const std::string& vehicle, const StreamPtr& stream,
                                               uint64_t first_unacked_seq, bool taken_over);
  void CommitGroup(std::vector<Submission>& group);
  // The group is no longer in flight: frees its budget, which resumes waiting streams.
  void ReleaseBudget(const std::vector<Submission>& group);
  void Enqueue(Submission sub);  // requires mu_ (keeps classification and queue order together)

  Store* const store_;
  MetricsRegistry* const metrics_registry_;
  const IngestOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<RecordObserver*> observers_;
  // Refused streams and batches are logged rate-limited: unauthenticated or broken clients
  // must not flood the log (their exact counts are in metrics).
  RefusalLog refusal_log_{"telemetry"};
  InflightBudget budget_;

  mutable std::mutex mu_;  // guards vehicles_, streams_, draining_; taken before queue_mu_
  mutable std::mutex commit_status_mu_;
  absl::Status last_commit_status_;
  std::unordered_map<std::string, VehicleState> vehicles_;
  std::set<StreamPtr> streams_;
  bool draining_ = false;

  std::mutex queue_mu_;  // guards the members below
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::vector<Submission> queue_;
  size_t queued_units_ = 0;
  std::chrono::steady_clock::time_point oldest_queued_;
  bool committing_ = false;
  bool flush_ = false;
  bool stop_ = false;
  std::thread committer_;
  std::unique_ptr<VehicleTakeovers> takeovers_;  // with options_.take_ownership
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_INGEST_INGEST_SERVICE_H_
