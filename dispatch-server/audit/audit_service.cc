#include "dispatch-server/audit/audit_service.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "dispatch-server/audit/run_report.h"
#include "dispatch-server/audit/track_export.h"
#include "dispatch-server/audit/track_page_token.h"
#include "dispatch-server/audit/track_pages.h"
#include "dispatch-server/auth/operator_auth.h"
#include "dispatch-server/common/blocking_calls.h"
#include "dispatch-server/common/grpc_status.h"

namespace cit::dispatch {
namespace {

// Answers a unary call from `fn`, run on `calls` (off gRPC's callback threads: it reads the
// database); `fn` must capture what it uses by value (the request and context pointers stay
// valid until the reactor finishes).
template <typename T, typename Fn>
grpc::ServerUnaryReactor* Respond(BlockingCalls& calls, grpc::CallbackServerContext* context,
                                  T* response, Fn fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool queued = calls.Submit([reactor, response, fn = std::move(fn)]() mutable {
    absl::StatusOr<T> result = fn();
    if (result.ok()) {
      *response = *std::move(result);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(ToGrpcStatus(result.status()));
    }
  });
  if (!queued) {
    spdlog::warn("event=audit_call_refused reason=busy max_queued={}", calls.max_queued());
    reactor->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        fmt::format("{} audit calls are waiting already, the most this server queues; retry in "
                    "a minute",
                    calls.max_queued())));
  }
  return reactor;
}

// Bytes of document per StreamExport message (one page of text may add ~0.2 MiB).
constexpr std::size_t kExportPartBytes = 512u << 10;

// A stream refused before it began.
template <typename T>
class RefusedWriter final : public grpc::ServerWriteReactor<T> {
 public:
  explicit RefusedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

// Holds one of the service's stream slots until destroyed.
class StreamSlot {
 public:
  explicit StreamSlot(std::atomic<int>& active) : active_(active) {}
  ~StreamSlot() { active_.fetch_sub(1); }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  std::atomic<int>& active_;
};

// One export: the next part is made only when gRPC has taken the previous one.
class ExportWriter final : public grpc::ServerWriteReactor<cit::v1::ExportRunResponse> {
 public:
  ExportWriter(std::unique_ptr<ExportStream> stream, std::atomic<int>& active)
      : stream_(std::move(stream)), slot_(active) {
    message_.set_media_type(stream_->media_type());
    message_.set_suggested_file_name(stream_->file_name());
    WriteNext();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    if (last_) return Finish(grpc::Status::OK);
    message_.Clear();
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    absl::StatusOr<bool> more = stream_->Next(*message_.mutable_content(), kExportPartBytes);
    if (!more.ok()) return Finish(ToGrpcStatus(more.status()));
    last_ = !*more;
    StartWrite(&message_);
  }

  std::unique_ptr<ExportStream> stream_;
  StreamSlot slot_;
  cit::v1::ExportRunResponse message_;
  bool last_ = false;
};

// One track read: records in messages of at most ~1 MiB (one record more if a single record is
// larger), read from the store a page at a time.
class TrackWriter final : public grpc::ServerWriteReactor<cit::v1::GetTrackResponse> {
 public:
  TrackWriter(std::unique_ptr<SourcePages> pages, std::atomic<int>& active)
      : pages_(std::move(pages)), slot_(active) {
    WriteNext();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    message_.Clear();
    std::size_t bytes = 0;
    while (bytes < kTrackMessageBytes) {
      if (next_ == page_.size()) {
        absl::StatusOr<std::vector<cit::v1::StoredRecord>> page = pages_->Next();
        if (!page.ok()) return Finish(ToGrpcStatus(page.status()));
        page_ = *std::move(page);
        next_ = 0;
        if (page_.empty()) break;
      }
      bytes += page_[next_].ByteSizeLong();
      *message_.add_records() = std::move(page_[next_++]);
    }
    if (message_.records_size() == 0) return Finish(grpc::Status::OK);
    StartWrite(&message_);
  }

  static constexpr std::size_t kTrackMessageBytes = 1u << 20;
  std::unique_ptr<SourcePages> pages_;
  StreamSlot slot_;
  std::vector<cit::v1::StoredRecord> page_;
  std::size_t next_ = 0;
  cit::v1::GetTrackResponse message_;
};

grpc::Status Busy(int max_streams) {
  spdlog::warn("event=audit_stream_refused reason=busy max_streams={}", max_streams);
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      fmt::format("{} exports and track reads are running, the most this server "
                                  "serves at once; retry in a minute",
                                  max_streams));
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
  // One pass over the run's records, none kept: memory and time follow the run only as far as
  // reading it must (issue 14 §2, issue 16 §2).
  TrackRange range;
  range.vehicle_id = run->plan().vehicle_id();
  range.from = std::move(from);
  range.to = std::move(to);
  RunReportBuilder builder(*run);
  absl::StatusOr<std::string> chain_head =
      source_->ForEachRecord(range, [&](const cit::v1::Record& r) { builder.Add(r); });
  if (!chain_head.ok()) return chain_head.status();
  auto alerts = source_->RunAlerts(run_id);
  if (!alerts.ok()) return alerts.status();
  cit::v1::RunReport report = std::move(builder).Finish(*std::move(alerts));
  // The head of the run's own records: what an auditor signs off; `verify` checks all of them.
  report.set_chain_head(*std::move(chain_head));
  return report;
}

absl::StatusOr<std::unique_ptr<ExportStream>> Auditor::OpenExport(
    const cit::v1::ExportRunRequest& req) const {
  if (auto s = RequireRunId(req.run_id()); !s.ok()) return s;
  absl::StatusOr<cit::v1::Run> run = source_->GetRun(req.run_id());
  if (!run.ok()) return run.status();
  auto [from, to] = RunWindow(*run);
  absl::StatusOr<TrackRange> range =
      TrackRangeNow(*source_, run->plan().vehicle_id(), std::move(from), std::move(to));
  if (!range.ok()) return range.status();
  auto alerts = source_->RunAlerts(req.run_id());
  if (!alerts.ok()) return alerts.status();
  return ExportStream::Create(req.format(), *std::move(run), *std::move(alerts),
                              std::make_unique<SourcePages>(source_, *range, kPageRecords));
}

absl::StatusOr<cit::v1::ExportRunResponse> Auditor::Export(
    const cit::v1::ExportRunRequest& req) const {
  absl::StatusOr<std::unique_ptr<ExportStream>> stream = OpenExport(req);
  if (!stream.ok()) return stream.status();
  cit::v1::ExportRunResponse out;
  out.set_media_type((*stream)->media_type());
  out.set_suggested_file_name((*stream)->file_name());
  std::string* content = out.mutable_content();
  while (true) {
    absl::StatusOr<bool> more = (*stream)->Next(*content, kMaxUnaryExportBytes + 1);
    if (!more.ok()) return more.status();
    if (content->size() > kMaxUnaryExportBytes) {
      return absl::FailedPreconditionError(fmt::format(
          "the export of run {} is larger than {} MiB, the most ExportRun answers; use the "
          "streaming call Audit/StreamExport (`dispatchctl audit export` streams)",
          req.run_id(), kMaxUnaryExportBytes >> 20));
    }
    if (!*more) return out;
  }
}

absl::StatusOr<cit::v1::VerifyChainResponse> Auditor::Verify(
    const cit::v1::VerifyChainRequest& req) const {
  std::string vehicle;
  std::string run_id;
  std::optional<RecordTimeWindow> window;  // a run's records: verified without the history
  switch (req.target_case()) {
    case cit::v1::VerifyChainRequest::kRunId: {
      absl::StatusOr<cit::v1::Run> run = source_->GetRun(req.run_id());
      if (run.ok()) {
        vehicle = run->plan().vehicle_id();
        const auto [from, to] = RunWindow(*run);
        window.emplace();
        if (from) window->from_ns = google::protobuf::util::TimeUtil::TimestampToNanoseconds(*from);
        if (to) window->to_ns = google::protobuf::util::TimeUtil::TimestampToNanoseconds(*to);
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
        ledger_->Verify(vehicle, run_id, req.has_checkpoint() ? &req.checkpoint() : nullptr,
                        window ? &*window : nullptr);
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

absl::StatusOr<TrackRange> Auditor::TrackRangeFor(const cit::v1::GetTrackRequest& req) const {
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
  return TrackRangeNow(*source_, vehicle, std::move(from), std::move(to));
}

absl::StatusOr<cit::v1::GetTrackResponse> Auditor::Track(
    const cit::v1::GetTrackRequest& req) const {
  std::optional<TrackPageToken> token;
  if (!req.page_token().empty()) {
    absl::StatusOr<TrackPageToken> t = DecodeTrackPageToken(req.page_token());
    if (!t.ok()) return t.status();
    token = *t;
  }
  absl::StatusOr<TrackRange> range = TrackRangeFor(req);
  if (!range.ok()) return range.status();
  std::optional<TrackKey> after;
  if (token) {
    // Later pages see what the first one did.
    range->max_chain_index = token->max_chain_index;
    after = token->after;
  }
  // Without page_size or page_token the caller expects the whole track: all of it, or a refusal
  // that says how to read more; never a silently shortened track.
  const bool whole = req.page_size() == 0 && !token;
  std::size_t limit = req.page_size() == 0
                          ? kMaxTrackPageRecords
                          : std::min<std::size_t>(req.page_size(), kMaxTrackPageRecords);
  auto records = source_->VehicleRecordsPage(*range, after, limit + 1);
  if (!records.ok()) return records.status();
  // Records are small, but a few large ones must not push an answer past the 4 MiB a client
  // accepts: the page also ends at kMaxTrackPageBytes (after at least one record).
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < records->size() && i < limit; ++i) {
    bytes += (*records)[i].ByteSizeLong();
    if (bytes > kMaxTrackPageBytes && i > 0) {
      records->resize(i + 1);  // one beyond the page: "more follows"
      limit = i;
      break;
    }
  }
  cit::v1::GetTrackResponse out;
  if (records->size() > limit) {
    if (whole) {
      return absl::FailedPreconditionError(fmt::format(
          "the track has more than {} records or {} MiB, the most one GetTrack answer holds; "
          "page through it with page_size and next_page_token, or use the streaming call "
          "Audit/StreamTrack",
          kMaxTrackPageRecords, kMaxTrackPageBytes >> 20));
    }
    records->resize(limit);
    out.set_next_page_token(
        EncodeTrackPageToken(TrackPageToken{KeyOf(records->back()), range->max_chain_index}));
  }
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

AuditService::AuditService(std::shared_ptr<AuditSource> source, std::shared_ptr<AuditLedger> ledger,
                           int max_streams)
    : auditor_(std::move(source), std::move(ledger)),
      max_streams_(max_streams),
      calls_("audit_calls", kCallThreads, kMaxQueuedCalls) {}

bool AuditService::AcquireStream() {
  int n = active_streams_.load();
  do {
    if (n >= max_streams_) return false;
  } while (!active_streams_.compare_exchange_weak(n, n + 1));
  return true;
}

grpc::ServerUnaryReactor* AuditService::GetRunReport(grpc::CallbackServerContext* context,
                                                     const cit::v1::RunReportRequest* request,
                                                     cit::v1::RunReport* response) {
  return Respond(calls_, context, response,
                 [this, request] { return auditor_.Report(request->run_id()); });
}

grpc::ServerUnaryReactor* AuditService::ExportRun(grpc::CallbackServerContext* context,
                                                  const cit::v1::ExportRunRequest* request,
                                                  cit::v1::ExportRunResponse* response) {
  return Respond(calls_, context, response, [this, request] { return auditor_.Export(*request); });
}

grpc::ServerUnaryReactor* AuditService::VerifyChain(grpc::CallbackServerContext* context,
                                                    const cit::v1::VerifyChainRequest* request,
                                                    cit::v1::VerifyChainResponse* response) {
  return Respond(calls_, context, response,
                 [this, request, context]() -> absl::StatusOr<cit::v1::VerifyChainResponse> {
                   auto result = auditor_.Verify(*request);
                   if (result.ok()) {
                     spdlog::info("audit: {} verified chain of {}: {}", ActorName(*context),
                                  result->vehicle_id(), result->intact() ? "intact" : "BROKEN");
                   }
                   return result;
                 });
}

grpc::ServerUnaryReactor* AuditService::GetTrack(grpc::CallbackServerContext* context,
                                                 const cit::v1::GetTrackRequest* request,
                                                 cit::v1::GetTrackResponse* response) {
  return Respond(calls_, context, response, [this, request] { return auditor_.Track(*request); });
}

grpc::ServerUnaryReactor* AuditService::GetCheckpoint(grpc::CallbackServerContext* context,
                                                      const cit::v1::GetCheckpointRequest* request,
                                                      cit::v1::SignedCheckpoint* response) {
  return Respond(calls_, context, response,
                 [this, request] { return auditor_.Checkpoint(*request); });
}

grpc::ServerUnaryReactor* AuditService::ListCheckpoints(
    grpc::CallbackServerContext* context, const cit::v1::ListCheckpointsRequest* request,
    cit::v1::ListCheckpointsResponse* response) {
  return Respond(calls_, context, response,
                 [this, request] { return auditor_.Checkpoints(*request); });
}

grpc::ServerUnaryReactor* AuditService::ListIdentityEvents(
    grpc::CallbackServerContext* context, const cit::v1::ListIdentityEventsRequest* request,
    cit::v1::ListIdentityEventsResponse* response) {
  return Respond(calls_, context, response,
                 [this, request] { return auditor_.IdentityEvents(*request); });
}

grpc::ServerUnaryReactor* AuditService::GetPeriodReport(grpc::CallbackServerContext* context,
                                                        const cit::v1::PeriodReportRequest* request,
                                                        cit::v1::PeriodReport* response) {
  return Respond(
      calls_, context, response, [this, request]() -> absl::StatusOr<cit::v1::PeriodReport> {
        if (!period_reporter_) {
          return absl::UnimplementedError("period reports are not configured on this server");
        }
        absl::StatusOr<cit::v1::PeriodReport> r = period_reporter_->Build(*request);
        if (r.ok()) {
          spdlog::info("event=period_report runs={} summarised={} alerts={} build_s={:.3f}",
                       r->runs_planned(), r->runs_summarised(), r->alerts_total(), r->build_s());
        }
        return r;
      });
}

}  // namespace cit::dispatch

namespace cit::dispatch {

grpc::ServerWriteReactor<cit::v1::ExportRunResponse>* AuditService::StreamExport(
    grpc::CallbackServerContext* context, const cit::v1::ExportRunRequest* request) {
  if (!AcquireStream()) return new RefusedWriter<cit::v1::ExportRunResponse>(Busy(max_streams_));
  absl::StatusOr<std::unique_ptr<ExportStream>> stream = auditor_.OpenExport(*request);
  if (!stream.ok()) {
    active_streams_.fetch_sub(1);
    return new RefusedWriter<cit::v1::ExportRunResponse>(ToGrpcStatus(stream.status()));
  }
  spdlog::info("event=audit_export_started actor={} run={} format={}", ActorName(*context),
               request->run_id(), cit::v1::ExportFormat_Name(request->format()));
  return new ExportWriter(*std::move(stream), active_streams_);
}

grpc::ServerWriteReactor<cit::v1::GetTrackResponse>* AuditService::StreamTrack(
    grpc::CallbackServerContext* /*context*/, const cit::v1::GetTrackRequest* request) {
  if (!AcquireStream()) return new RefusedWriter<cit::v1::GetTrackResponse>(Busy(max_streams_));
  absl::StatusOr<TrackRange> range = auditor_.TrackRangeFor(*request);
  if (!range.ok()) {
    active_streams_.fetch_sub(1);
    return new RefusedWriter<cit::v1::GetTrackResponse>(ToGrpcStatus(range.status()));
  }
  return new TrackWriter(
      std::make_unique<SourcePages>(auditor_.source_ptr(), *range, Auditor::kPageRecords),
      active_streams_);
}

}  // namespace cit::dispatch
