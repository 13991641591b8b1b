#include "dispatch-server/ingest/ingest_service.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "dispatch-server/ingest/telemetry_stream.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {

using Clock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;

struct IngestService::Metrics {
  explicit Metrics(MetricsRegistry& m)
      : received(m.GetCounter("cit_ingest_records_received_total",
                              "Records read off telemetry streams (before validation)")),
        stored(m.GetCounter("cit_ingest_records_stored_total", "Records committed to the store")),
        duplicates(m.GetCounter("cit_ingest_duplicates_total",
                                "Records dropped because their seq was already stored or queued")),
        identity_mismatch(m.GetCounter(
            "cit_ingest_identity_mismatch_total",
            "Hellos refused with PERMISSION_DENIED because they claim another vehicle")),
        protocol_errors(m.GetCounter("cit_ingest_protocol_errors_total",
                                     "Streams ended for protocol errors (no Hello, repeated Hello, "
                                     "empty message, bad vehicle id)")),
        streams_replaced(
            m.GetCounter("cit_ingest_streams_replaced_total",
                         "Streams ended ABORTED because the vehicle opened a new one")),
        commit_failures(m.GetCounter("cit_ingest_commit_failures_total",
                                     "Group commits that failed (records not acknowledged)")),
        seq_gaps(m.GetCounter("cit_ingest_seq_gaps_total",
                              "Seq ranges agents declared gone (Hello.first_unacked_seq, "
                              "RecordBatch.covers_from_seq)")),
        gap_seqs(m.GetCounter("cit_ingest_gap_seqs_total",
                              "Seqs agents declared gone (thinned from a full journal or lost)")),
        observed(m.GetCounter("cit_ingest_records_observed_total",
                              "Accepted records handed to the monitor at receipt")),
        commits(m.GetCounter("cit_ingest_commits_total", "Group commits")),
        refused_no_vehicle_id(m.GetCounter("cit_ingest_stream_refusals_total",
                                           "Telemetry streams refused before any record, by reason",
                                           {{"reason", "no_vehicle_id_in_certificate"}})),
        refused_identity_mismatch(
            m.GetCounter("cit_ingest_stream_refusals_total",
                         "Telemetry streams refused before any record, by reason",
                         {{"reason", "identity_mismatch"}})),
        batches_refused_records(m.GetCounter(
            "cit_ingest_batches_refused_total",
            "RecordBatches refused whole (stream ended RESOURCE_EXHAUSTED), by exceeded limit",
            {{"limit", "records"}})),
        batches_refused_bytes(m.GetCounter(
            "cit_ingest_batches_refused_total",
            "RecordBatches refused whole (stream ended RESOURCE_EXHAUSTED), by exceeded limit",
            {{"limit", "bytes"}})),
        commit_seconds(m.GetHistogram("cit_ingest_commit_seconds",
                                      "Duration of one group commit (store append + fsync)",
                                      Histogram::ExponentialBounds(0.0005, 2, 12))),
        latency_seconds(
            m.GetHistogram("cit_ingest_latency_seconds",
                           "From reading a batch off the stream to its commit (ack can be sent)",
                           Histogram::ExponentialBounds(0.0005, 2, 12))),
        commit_records(m.GetHistogram("cit_ingest_commit_batch_records",
                                      "Records (and rejects) per group commit",
                                      Histogram::ExponentialBounds(1, 4, 8))) {
    for (int r = cit::v1::RejectReason_MIN; r <= cit::v1::RejectReason_MAX; ++r) {
      if (!cit::v1::RejectReason_IsValid(r)) continue;
      std::string name = cit::v1::RejectReason_Name(static_cast<cit::v1::RejectReason>(r));
      if (name.rfind("REJECT_REASON_", 0) == 0) name = name.substr(14);
      rejects[r] = &m.GetCounter("cit_ingest_rejects_total", "Records refused, by reason",
                                 {{"reason", name}});
    }
  }
  Counter& received;
  Counter& stored;
  Counter& duplicates;
  Counter& identity_mismatch;
  Counter& protocol_errors;
  Counter& streams_replaced;
  Counter& commit_failures;
  Counter& seq_gaps;
  Counter& gap_seqs;
  Counter& observed;
  Counter& commits;
  Counter& refused_no_vehicle_id;
  Counter& refused_identity_mismatch;
  Counter& batches_refused_records;
  Counter& batches_refused_bytes;
  Histogram& commit_seconds;
  Histogram& latency_seconds;
  Histogram& commit_records;
  Counter* rejects[cit::v1::RejectReason_ARRAYSIZE] = {};
};

namespace {

// What a takeover carries to its end: the stream that waits for its Welcome.
struct PendingRegistration {
  std::shared_ptr<internal::TelemetryStream> stream;
  uint64_t first_unacked_seq = 0;
};

}  // namespace

IngestService::IngestService(Store* store, MetricsRegistry* metrics, IngestOptions options)
    : store_(store),
      metrics_registry_(metrics),
      options_(std::move(options)),
      metrics_(std::make_unique<Metrics>(*metrics)),
      budget_(options_.budget, metrics) {
  metrics->AddCallbackGauge("cit_connected_vehicles", "Vehicles with a live telemetry stream",
                            [this] { return static_cast<double>(ConnectedVehicles()); });
}

IngestService::~IngestService() {
  Stop();
  // The gauge callback captures `this`.
  metrics_registry_->AddCallbackGauge("cit_connected_vehicles",
                                      "Vehicles with a live telemetry stream", [] { return 0.0; });
}

void IngestService::AddObserver(RecordObserver* observer) { observers_.push_back(observer); }

absl::Status IngestService::Start() {
  absl::StatusOr<std::vector<VehicleSeqState>> states = store_->LoadVehicleStates();
  if (!states.ok()) return states.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (VehicleSeqState& s : *states) {
      VehicleState& v = vehicles_[s.vehicle_id];
      v.watermark = s.contiguous_seq;
      v.seen_above.insert(s.handled_above.begin(), s.handled_above.end());
    }
  }
  spdlog::info(
      "event=ingest_started vehicles_known={} group_commit_delay_ms={} "
      "max_batch_records={} max_inflight_records={} max_inflight_bytes={} max_commit_records={}",
      states->size(), options_.group_commit_delay.count(), options_.max_batch_records,
      options_.budget.max_records, options_.budget.max_bytes, options_.max_commit_records);
  committer_ = std::thread([this] { CommitLoop(); });
  if (options_.take_ownership) {
    takeovers_ = std::make_unique<VehicleTakeovers>(
        store_, [this](const std::string& vehicle, VehicleTakeovers::Context ctx,
                       absl::StatusOr<uint64_t> token) {
          auto* p = static_cast<PendingRegistration*>(ctx.get());
          if (!token.ok()) {
            spdlog::warn("event=takeover_failed vehicle={} error=\"{}\"", vehicle,
                         token.status().ToString());
            p->stream->Registered(absl::UnavailableError(absl::StrCat(
                "this instance could not take vehicle ", vehicle,
                " over: ", token.status().message(), "; reconnect (to another instance)")));
            return;
          }
          spdlog::info("event=vehicle_taken_over vehicle={} fencing_token={}", vehicle, *token);
          if (options_.on_taken_over) options_.on_taken_over(vehicle, *token);
          p->stream->Registered(FinishRegistration(vehicle, p->stream, p->first_unacked_seq, true));
        });
  }
  return absl::OkStatus();
}

absl::Status IngestService::LastCommitStatus() const {
  std::lock_guard<std::mutex> lock(commit_status_mu_);
  return last_commit_status_;
}

size_t IngestService::ConnectedVehicles() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, v] : vehicles_) n += v.live != nullptr ? 1 : 0;
  return n;
}

grpc::ServerBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage>* IngestService::Stream(
    grpc::CallbackServerContext* context) {
  std::string cert_vehicle;
  grpc::Status early = grpc::Status::OK;
  if (!options_.identity_from_hello) {
    std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
    if (auth != nullptr) {
      for (const char* property : {"x509_common_name", "x509_subject_alternative_name"}) {
        std::vector<grpc::string_ref> values = auth->FindPropertyValues(property);
        if (!values.empty()) {
          cert_vehicle.assign(values.front().data(), values.front().size());
          break;
        }
      }
    }
    if (!IsValidVehicleId(cert_vehicle)) {
      metrics_->identity_mismatch.Increment();
      metrics_->refused_no_vehicle_id.Increment();
      early = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                           "client certificate carries no valid vehicle id (CN or SAN)");
      if (refusal_log_.Admit("no_vehicle_id_in_certificate")) {
        spdlog::warn("event=stream_refused reason=no_vehicle_id_in_certificate peer={}",
                     context->peer());
      }
      cert_vehicle.clear();
    }
  }
  auto stream = std::make_shared<internal::TelemetryStream>(this, cert_vehicle, context->peer());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ && early.ok()) {
      early = grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down");
    }
    streams_.insert(stream);
  }
  stream->Begin(stream, early);
  return stream.get();
}

void IngestService::RegisterLive(const std::string& vehicle, const StreamPtr& stream,
                                 const cit::v1::Hello& hello) {
  if (takeovers_ == nullptr) {
    stream->Registered(FinishRegistration(vehicle, stream, hello.first_unacked_seq(), false));
    return;
  }
  takeovers_->Submit(vehicle, std::make_shared<PendingRegistration>(
                                  PendingRegistration{stream, hello.first_unacked_seq()}));
}

absl::StatusOr<IngestService::StreamPtr> IngestService::FinishRegistration(
    const std::string& vehicle, const StreamPtr& stream, uint64_t first_unacked_seq,
    bool taken_over) {
  std::lock_guard<std::mutex> lock(mu_);
  if (draining_) return absl::UnavailableError("server is shutting down");
  VehicleState& v = vehicles_[vehicle];
  // What another instance stored meanwhile counts as handled here too.
  if (taken_over) v.CatchUp(store_->HighestContiguousSeq(vehicle));
  StreamPtr replaced = std::move(v.live);
  v.live = stream;
  if (replaced) metrics_->streams_replaced.Increment();

  // Welcome goes out before any Ack: queue it under mu_, which commits also take to ack.
  cit::v1::ServerMessage welcome;
  welcome.mutable_welcome()->set_highest_stored_seq(v.watermark);
  const auto now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  welcome.mutable_welcome()->mutable_server_time()->set_seconds(now_ns / 1'000'000'000);
  welcome.mutable_welcome()->mutable_server_time()->set_nanos(
      static_cast<int32_t>(now_ns % 1'000'000'000));
  welcome.mutable_welcome()->set_max_batch_records(options_.max_batch_records);
  welcome.mutable_welcome()->set_accepts_urgent(true);
  stream->SetAcked(v.watermark);
  stream->Send(std::move(welcome));

  // The agent no longer holds seqs (watermark, first_unacked): record the gap so acks can pass.
  const uint64_t first = first_unacked_seq;
  if (first > v.watermark + 1) {
    metrics_->seq_gaps.Increment();
    spdlog::warn(
        "event=seq_gap vehicle={} first_seq={} last_seq={} "
        "note=\"agent no longer holds these records\"",
        vehicle, v.watermark + 1, first - 1);
    metrics_->gap_seqs.Increment(first - 1 - v.watermark);
    Submission sub;
    sub.stream = stream;
    sub.vehicle_id = vehicle;
    sub.gaps.push_back(SeqGap{vehicle, v.watermark + 1, first - 1, Clock::now()});
    sub.received = Steady::now();
    Enqueue(std::move(sub));
  }
  return replaced;
}

std::vector<SeqGap> IngestService::DeclaredGaps(const std::string& vehicle,
                                                const cit::v1::RecordBatch& batch) {
  std::vector<SeqGap> gaps;
  const uint64_t from = batch.covers_from_seq();
  if (from == 0 || batch.records_size() == 0) return gaps;
  // The claim must describe this batch: from <= its first seq, seqs strictly ascending.
  uint64_t prev = 0;
  for (const cit::v1::Record& r : batch.records()) {
    if (r.seq() <= prev || r.seq() < from ||
        r.seq() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      metrics_->protocol_errors.Increment();
      if (refusal_log_.Admit("gap_claim_ignored")) {
        spdlog::warn(
            "event=gap_claim_ignored vehicle={} covers_from_seq={} reason=\"records not "
            "ascending from covers_from_seq\"",
            vehicle, from);
      }
      return {};
    }
    prev = r.seq();
  }
  const auto now = Clock::now();
  uint64_t next = from;  // lowest seq not yet accounted for
  for (const cit::v1::Record& r : batch.records()) {
    if (r.seq() > next) gaps.push_back(SeqGap{vehicle, next, r.seq() - 1, now});
    next = r.seq() + 1;
  }
  return gaps;
}

void IngestService::LogGaps(const std::string& vehicle, const std::vector<SeqGap>& gaps) {
  if (gaps.empty()) return;
  uint64_t missing = 0;
  for (const SeqGap& g : gaps) missing += g.last_seq - g.first_seq + 1;
  metrics_->seq_gaps.Increment(gaps.size());
  metrics_->gap_seqs.Increment(missing);
  spdlog::warn(
      "event=seq_gap vehicle={} first_seq={} last_seq={} ranges={} seqs={} "
      "note=\"agent thinned these fixes from a full journal\"",
      vehicle, gaps.front().first_seq, gaps.back().last_seq, gaps.size(), missing);
}

void IngestService::Observe(VehicleState& v, const std::vector<CommittedRecord>& records) {
  if (observers_.empty() || records.empty()) return;
  std::vector<CommittedRecord> fresh;
  const std::vector<CommittedRecord>* out = &records;
  if (!v.observed_unstored.empty()) {
    // Resends after a failed commit: stored now, but the monitor has evaluated them already.
    for (const CommittedRecord& r : records) {
      if (v.observed_unstored.erase(r.record.seq()) == 0) fresh.push_back(r);
    }
    out = &fresh;
    if (fresh.empty()) return;
  }
  metrics_->observed.Increment(out->size());
  for (RecordObserver* o : observers_) {
    // An observer's bug must not take the ingest (and every vehicle's acks) down.
    try {
      o->OnAccepted(*out);
    } catch (const std::exception& e) {
      spdlog::error("event=observer_failed error=\"{}\"", e.what());
    } catch (...) {
      spdlog::error("event=observer_failed error=unknown");
    }
  }
}

grpc::Status IngestService::CheckBatchSize(const std::string& vehicle,
                                           const cit::v1::RecordBatch& batch, size_t* bytes_out) {
  const size_t n = static_cast<size_t>(batch.records_size());
  std::string detail;
  Counter* refused = nullptr;
  if (n > options_.max_batch_records) {  // O(1): checked before the byte size is computed
    refused = &metrics_->batches_refused_records;
    detail =
        absl::StrCat("RecordBatch of ", n,
                     " records exceeds ingest.max_batch_records = ", options_.max_batch_records,
                     " (sent in Welcome.max_batch_records); send smaller batches");
  } else if (const size_t bytes = *bytes_out = batch.ByteSizeLong();
             bytes > options_.max_batch_bytes) {
    refused = &metrics_->batches_refused_bytes;
    detail = absl::StrCat("RecordBatch of ", bytes,
                          " bytes exceeds ingest.max_batch_bytes = ", options_.max_batch_bytes,
                          "; send fewer records per batch");
  } else {
    return grpc::Status::OK;
  }
  refused->Increment();
  if (refusal_log_.Admit("batch_too_large")) {
    spdlog::warn("event=batch_refused vehicle={} detail=\"{}\"", vehicle, detail);
  }
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, detail);
}

size_t IngestService::SubmitBatch(const StreamPtr& stream, const std::string& vehicle,
                                  cit::v1::RecordBatch* batch, size_t bytes, bool urgent,
                                  bool* accepting) {
  const auto now = Clock::now();
  auto* records = batch->mutable_records();
  const size_t n = static_cast<size_t>(records->size());
  metrics_->received.Increment(n);
  // Validation is pure CPU work and runs before taking the lock. Every step per record is
  // O(1) or O(log n) in the vehicle's out-of-order set: CheckBatchSize already bounded n.
  // So is the stored body (the deterministic serialisation the chain hashes): made here, on the
  // stream's thread, it is off the single commit thread, which is the ingest's ceiling.
  std::vector<std::optional<Rejection>> verdicts(n);
  std::vector<std::string> bodies(n);
  for (size_t i = 0; i < n; ++i) {
    const cit::v1::Record& r = records->Get(static_cast<int>(i));
    verdicts[i] = ValidateRecord(r, vehicle, now, options_.limits);
    if (r.seq() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      verdicts[i] = Rejection{cit::v1::REJECT_REASON_BAD_SEQ, "seq above 2^63-1"};
    }
    if (!verdicts[i]) bodies[i] = SerializeRecordBody(r);
  }

  Submission sub;
  sub.stream = stream;
  sub.vehicle_id = vehicle;
  sub.received = Steady::now();
  if (!urgent) sub.gaps = DeclaredGaps(vehicle, *batch);
  sub.records.reserve(n);  // no growth by doubling: in flight, it is held until committed
  std::vector<std::string> accepted_bodies;  // of sub.records, in their order
  accepted_bodies.reserve(n);
  size_t body_bytes = 0;
  uint64_t duplicates = 0;
  std::unique_lock<std::mutex> lock(mu_);
  if (draining_) {
    *accepting = false;
    return 0;
  }
  VehicleState& v = vehicles_[vehicle];
  // A resent batch re-declares gaps that are already behind the watermark: nothing to store.
  std::erase_if(sub.gaps, [&](const SeqGap& g) { return g.last_seq <= v.watermark; });
  uint64_t prev_seq = 0;
  for (size_t i = 0; i < n; ++i) {
    cit::v1::Record* r = records->Mutable(static_cast<int>(i));
    const uint64_t seq = r->seq();
    const bool usable_seq =
        seq != 0 && seq <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (usable_seq && (seq <= v.watermark || v.seen_above.count(seq) != 0)) {
      ++duplicates;
      continue;
    }
    std::optional<Rejection>& verdict = verdicts[i];
    if (!verdict && seq <= prev_seq) {
      verdict = Rejection{
          cit::v1::REJECT_REASON_BAD_SEQ,
          absl::StrCat("seq ", seq, " not ascending within the batch (after ", prev_seq, ")")};
    }
    if (usable_seq) {
      v.seen_above.insert(seq);
      prev_seq = std::max(prev_seq, seq);
    }
    if (verdict) {
      RejectedRecord rej;
      rej.vehicle_id = vehicle;
      rej.seq = usable_seq ? seq : 0;
      rej.reason = verdict->reason;
      rej.detail = std::move(verdict->detail);
      rej.raw = r->SerializeAsString();
      rej.server_received_time = now;
      sub.rejects.push_back(std::move(rej));
    } else {
      CommittedRecord rec;
      rec.vehicle_id = vehicle;
      rec.record.Swap(r);
      rec.server_received_time = now;
      sub.records.push_back(std::move(rec));
      body_bytes += bodies[i].size();
      accepted_bodies.push_back(std::move(bodies[i]));
    }
  }
  if (duplicates > 0) metrics_->duplicates.Increment(duplicates);
  Observe(v, sub.records);
  // Only now: observers copy what they keep, and none needs the stored bytes.
  for (size_t k = 0; k < sub.records.size(); ++k) {
    sub.records[k].body = std::move(accepted_bodies[k]);
  }
  const size_t units = sub.units();
  if (units == 0 && sub.gaps.empty()) return 0;
  stream->AddPending(units);
  // Charged before the commit thread can see (and release) it; the bodies are held too.
  sub.bytes = units > 0 ? bytes + body_bytes : 0;
  budget_.Charge(units, sub.bytes);
  const std::vector<SeqGap> declared = sub.gaps;  // usually empty
  Enqueue(std::move(sub));
  lock.unlock();
  LogGaps(vehicle, declared);  // the log write stays outside the vehicle table lock
  return units;
}

void IngestService::Enqueue(Submission sub) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (queue_.empty()) oldest_queued_ = sub.received;
  queued_units_ += std::max<size_t>(sub.units(), 1);
  queue_.push_back(std::move(sub));
  if (queued_units_ >= options_.group_commit_records) queue_cv_.notify_one();
}

void IngestService::Unregister(internal::TelemetryStream* stream, const std::string& vehicle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!vehicle.empty()) {
    auto it = vehicles_.find(vehicle);
    if (it != vehicles_.end() && it->second.live.get() == stream) it->second.live.reset();
  }
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (it->get() == stream) {
      streams_.erase(it);
      break;
    }
  }
}

bool IngestService::RefuseIdentityMismatch() {
  metrics_->identity_mismatch.Increment();
  metrics_->refused_identity_mismatch.Increment();
  return refusal_log_.Admit("identity_mismatch");
}
void IngestService::CountProtocolError() { metrics_->protocol_errors.Increment(); }

void IngestService::CommitLoop() {
  // Idle reads' reservations are given back from here (inflight_budget.h), this often.
  constexpr auto kBudgetSweep = std::chrono::milliseconds(250);
  auto next_sweep = Steady::now() + kBudgetSweep;
  std::unique_lock<std::mutex> lock(queue_mu_);
  while (true) {
    if (Steady::now() >= next_sweep) {
      next_sweep = Steady::now() + kBudgetSweep;
      lock.unlock();
      budget_.ExpireIdle();  // may resume streams: not under queue_mu_
      lock.lock();
      continue;
    }
    if (queue_.empty()) {
      if (stop_) break;
      queue_cv_.wait_until(lock, next_sweep, [this] { return stop_ || !queue_.empty(); });
      continue;
    }
    const auto deadline = oldest_queued_ + options_.group_commit_delay;
    if (!stop_ && !flush_ && queued_units_ < options_.group_commit_records &&
        Steady::now() < deadline) {
      queue_cv_.wait_until(lock, deadline, [this] {
        return stop_ || flush_ || queued_units_ >= options_.group_commit_records;
      });
      continue;
    }
    // Whole submissions from the front, up to max_commit_records (at least one).
    std::vector<Submission> group;
    size_t group_units = 0;
    auto end = queue_.begin();
    while (end != queue_.end() &&
           (end == queue_.begin() ||
            group_units + std::max<size_t>(end->units(), 1) <= options_.max_commit_records)) {
      group_units += std::max<size_t>(end->units(), 1);
      ++end;
    }
    group.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
    queue_.erase(queue_.begin(), end);
    queued_units_ -= std::min(group_units, queued_units_);
    if (!queue_.empty()) oldest_queued_ = queue_.front().received;
    committing_ = true;
    lock.unlock();
    CommitGroup(group);
    group.clear();  // drop stream references outside the lock
    lock.lock();
    committing_ = false;
    idle_cv_.notify_all();
  }
}

void IngestService::CommitGroup(std::vector<Submission>& group) {
  AppendBatch batch;
  size_t total_records = 0, total_rejects = 0;
  for (const Submission& s : group) {
    total_records += s.records.size();
    total_rejects += s.rejects.size();
  }
  batch.records.reserve(total_records);
  batch.rejects.reserve(total_rejects);
  // Remember which vehicles and rejects each submission brought, for acks and notices.
  std::vector<std::string> vehicles;
  for (Submission& s : group) {
    vehicles.push_back(s.vehicle_id);
    for (CommittedRecord& r : s.records) batch.records.push_back(std::move(r));
    for (RejectedRecord& r : s.rejects) batch.rejects.push_back(r);  // keep a copy for notices
    for (const SeqGap& g : s.gaps) batch.gaps.push_back(g);
  }
  std::sort(vehicles.begin(), vehicles.end());
  vehicles.erase(std::unique(vehicles.begin(), vehicles.end()), vehicles.end());

  const auto t0 = Steady::now();
  absl::Status status = store_->Append(batch);
  const auto t1 = Steady::now();
  {
    std::lock_guard<std::mutex> lock(commit_status_mu_);
    last_commit_status_ = status;
  }

  if (!status.ok()) {
    metrics_->commit_failures.Increment();
    spdlog::error("event=commit_failed records={} rejects={} error=\"{}\"", batch.records.size(),
                  batch.rejects.size(), status.ToString());
    {
      // Forget the queued seqs so the agents' resends are not taken for duplicates.
      std::lock_guard<std::mutex> lock(mu_);
      for (const CommittedRecord& r : batch.records) {
        VehicleState& v = vehicles_[r.vehicle_id];
        v.seen_above.erase(r.record.seq());
        if (!observers_.empty()) v.observed_unstored.insert(r.record.seq());
      }
      for (const RejectedRecord& r : batch.rejects) vehicles_[r.vehicle_id].seen_above.erase(r.seq);
    }
    for (Submission& s : group) {
      s.stream->End(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "store commit failed; reconnect and resend"),
          /*drain_writes=*/false);
      s.stream->OnSubmissionDone(s.units());
    }
    ReleaseBudget(group);
    return;
  }

  metrics_->commits.Increment();
  metrics_->stored.Increment(batch.records.size());
  metrics_->commit_seconds.Observe(std::chrono::duration<double>(t1 - t0).count());
  metrics_->commit_records.Observe(
      static_cast<double>(batch.records.size() + batch.rejects.size()));
  for (const RejectedRecord& r : batch.rejects) {
    if (Counter* c = metrics_->rejects[r.reason]) c->Increment();
  }
  // New watermarks, and the live stream of each vehicle to tell.
  struct Notice {
    StreamPtr stream;
    uint64_t watermark;
  };
  std::vector<Notice> acks;
  std::vector<std::pair<StreamPtr, const RejectedRecord*>> reject_notices;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& vehicle : vehicles) {
      VehicleState& v = vehicles_[vehicle];
      v.CatchUp(store_->HighestContiguousSeq(vehicle));
      if (v.live) acks.push_back({v.live, v.watermark});
    }
    for (const RejectedRecord& r : batch.rejects) {
      auto it = vehicles_.find(r.vehicle_id);
      if (it != vehicles_.end() && it->second.live)
        reject_notices.emplace_back(it->second.live, &r);
    }
  }
  // Notices before the Ack that covers them.
  static std::atomic<uint64_t> logged_rejects{0};
  for (auto& [stream, r] : reject_notices) {
    cit::v1::ServerMessage m;
    m.mutable_rejected()->set_seq(r->seq);
    m.mutable_rejected()->set_reason(r->reason);
    m.mutable_rejected()->set_detail(r->detail);
    stream->Send(std::move(m));
    // Rejects are exceptional; still, a broken agent must not flood the log.
    const uint64_t n = logged_rejects.fetch_add(1);
    if (n < 100 || n % 1000 == 0) {
      spdlog::warn("event=record_rejected vehicle={} seq={} reason={} detail=\"{}\" total={}",
                   r->vehicle_id, r->seq, cit::v1::RejectReason_Name(r->reason), r->detail, n + 1);
    }
  }
  for (Notice& a : acks) a.stream->SendAck(a.watermark);
  for (Submission& s : group) s.stream->OnSubmissionDone(s.units());
  ReleaseBudget(group);

  const double latency_s =
      group.empty() ? 0
                    : std::chrono::duration<double>(Steady::now() - group.front().received).count();
  metrics_->latency_seconds.Observe(latency_s);
  spdlog::trace("event=commit records={} rejects={} commit_ms={:.3f}", batch.records.size(),
                batch.rejects.size(), std::chrono::duration<double, std::milli>(t1 - t0).count());
}

void IngestService::ReleaseBudget(const std::vector<Submission>& group) {
  size_t units = 0, bytes = 0;
  for (const Submission& s : group) {
    units += s.units();
    bytes += s.bytes;
  }
  budget_.Release(units, bytes);  // resumes waiting streams (not under any stream's lock)
}

void IngestService::Drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) return;
    draining_ = true;
  }
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    flush_ = true;
    queue_cv_.notify_all();
    const bool idle = idle_cv_.wait_for(lock, options_.drain_timeout,
                                        [this] { return queue_.empty() && !committing_; });
    if (!idle) spdlog::warn("event=drain_timeout note=\"last commit did not finish in time\"");
  }
  std::vector<StreamPtr> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams.assign(streams_.begin(), streams_.end());
  }
  for (const StreamPtr& s : streams) {
    s->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"),
           /*drain_writes=*/true);
  }
  spdlog::info("event=ingest_drained streams_ended={}", streams.size());
}

void IngestService::Stop() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stop_ = true;
    queue_cv_.notify_all();
  }
  if (committer_.joinable()) committer_.join();
  if (takeovers_ != nullptr) takeovers_->Stop();
}

}  // namespace cit::dispatch
