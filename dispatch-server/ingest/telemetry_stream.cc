#include "dispatch-server/ingest/telemetry_stream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "dispatch-server/ingest/ingest_service.h"
#include "dispatch-server/ingest/record_validator.h"

namespace cit::dispatch::internal {

TelemetryStream::TelemetryStream(IngestService* service, std::string cert_vehicle, std::string peer)
    : service_(service), cert_vehicle_(std::move(cert_vehicle)), peer_(std::move(peer)) {}

void TelemetryStream::Begin(std::shared_ptr<TelemetryStream> self,
                            const grpc::Status& early_status) {
  std::lock_guard<std::mutex> lock(mu_);
  self_ = std::move(self);
  if (!early_status.ok()) {
    end_requested_ = true;
    end_status_ = early_status;
    PumpLocked();
    return;
  }
  // The Hello read is outside the budget: it is tiny, and the budget needs its estimate.
  reading_ = true;
  StartRead(&in_);
}

void TelemetryStream::StartNextReadLocked() {
  if (end_requested_ || read_closed_ || finished_ || reading_ || budget_waiting_) return;
  if (pending_units_ >= service_->options().max_pending_records_per_stream) {
    read_paused_ = true;  // resumed by OnSubmissionDone
    return;
  }
  const Reservation r = service_->budget().TryReserve(shared_from_this(), estimate_,
                                                      estimate_.records <= kLightReadRecords);
  if (r.id == 0) {
    budget_waiting_ = true;  // resumed by OnBudgetAdmitted
    return;
  }
  reserved_ = r;
  reading_ = true;
  StartRead(&in_);
}

bool TelemetryStream::OnBudgetAdmitted(Reservation reserved) {
  std::lock_guard<std::mutex> lock(mu_);
  budget_waiting_ = false;
  if (end_requested_ || read_closed_ || finished_ || reading_) return false;
  reserved_ = reserved;
  reading_ = true;
  StartRead(&in_);
  return true;
}

void TelemetryStream::ReleaseRead() { cit::v1::AgentMessage().Swap(&in_); }

Reservation TelemetryStream::TakeReservationLocked() { return std::exchange(reserved_, {}); }

void TelemetryStream::PumpLocked() {
  if (writing_ || finished_) return;
  if (!outbox_.empty()) {
    writing_ = true;
    StartWrite(&outbox_.front());
    return;
  }
  if (end_requested_) {
    finished_ = true;
    Finish(end_status_);
  }
}

void TelemetryStream::Send(cit::v1::ServerMessage message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_requested_ || finished_) return;
  outbox_.push_back(std::move(message));
  PumpLocked();
}

void TelemetryStream::SetAcked(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  acked_ = seq;
}

void TelemetryStream::SendAck(uint64_t through_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (through_seq <= acked_ || end_requested_ || finished_) return;
  acked_ = through_seq;
  // Collapse into a queued, not yet started Ack: only the newest watermark matters.
  const size_t in_flight = writing_ ? 1 : 0;
  if (outbox_.size() > in_flight && outbox_.back().has_ack()) {
    outbox_.back().mutable_ack()->set_through_seq(through_seq);
    return;
  }
  cit::v1::ServerMessage m;
  m.mutable_ack()->set_through_seq(through_seq);
  outbox_.push_back(std::move(m));
  PumpLocked();
}

void TelemetryStream::AddPending(size_t units) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_units_ += units;
}

void TelemetryStream::OnSubmissionDone(size_t units) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_units_ -= std::min(units, pending_units_);
  if (read_paused_ && pending_units_ < service_->options().max_pending_records_per_stream) {
    read_paused_ = false;
    StartNextReadLocked();
  }
  if (read_closed_ && pending_units_ == 0 && !end_requested_) {
    // The agent half-closed: end cleanly once its last acks are written.
    end_requested_ = true;
    end_status_ = grpc::Status::OK;
    PumpLocked();
  }
}

void TelemetryStream::End(const grpc::Status& status, bool drain_writes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (end_requested_ || finished_) return;
  end_requested_ = true;
  end_status_ = status;
  if (!drain_writes) {
    // Keep only the write already handed to gRPC.
    while (outbox_.size() > (writing_ ? 1u : 0u)) outbox_.pop_back();
  }
  PumpLocked();
}

void TelemetryStream::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  if (!outbox_.empty()) outbox_.pop_front();
  if (!ok) {
    // The peer is gone; OnCancel or a failed read follows and ends the stream.
    outbox_.clear();
    if (!end_requested_) {
      end_requested_ = true;
      end_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
    }
  }
  PumpLocked();
}

void TelemetryStream::OnCancel() {
  End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"), /*drain_writes=*/false);
}

void TelemetryStream::OnDone() {
  service_->Unregister(this, vehicle_);
  std::shared_ptr<TelemetryStream> keep;
  Reservation reserved;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    keep = std::move(self_);
    reserved = TakeReservationLocked();  // a read that never completed
  }
  service_->budget().Unreserve(reserved);
  if (!vehicle_.empty()) {
    spdlog::info("event=stream_closed vehicle={} peer={}", vehicle_, peer_);
  }
  // `keep` may be the last owner: `this` is destroyed when it goes out of scope.
}

void TelemetryStream::OnReadDone(bool ok) {
  Reservation reserved;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
    reserved = TakeReservationLocked();
    if (!ok) {
      read_closed_ = true;
      if (pending_units_ == 0 && !end_requested_) {
        end_requested_ = true;
        end_status_ = grpc::Status::OK;
        PumpLocked();
      }
    }
  }
  const bool is_batch = ok && (in_.msg_case() == cit::v1::AgentMessage::kBatch ||
                               in_.msg_case() == cit::v1::AgentMessage::kUrgent);
  // A batch gives its reservation back once charged (HandleBatch); anything else at once.
  if (!is_batch) service_->budget().Unreserve(reserved);
  if (!ok) return;
  switch (in_.msg_case()) {
    case cit::v1::AgentMessage::kHello:
      if (hello_done_) {
        service_->CountProtocolError();
        End(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "repeated Hello"), false);
        return;
      }
      HandleHello();
      return;
    case cit::v1::AgentMessage::kBatch:
    case cit::v1::AgentMessage::kUrgent:
      // Urgent copies (panic, door, seal ahead of a backlog) take the same path: stored once
      // (the later in-order copy is a duplicate), acknowledged only when the watermark reaches
      // them, so they never move highest_stored_seq past records not yet stored.
      if (!hello_done_) {
        service_->CountProtocolError();
        End(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "first message must be Hello"),
            false);
        return;
      }
      HandleBatch(reserved);
      return;
    case cit::v1::AgentMessage::MSG_NOT_SET:
      break;
  }
  service_->CountProtocolError();
  End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty or unknown AgentMessage"), false);
}

void TelemetryStream::HandleHello() {
  const cit::v1::Hello& hello = in_.hello();
  std::string vehicle = cert_vehicle_;
  if (vehicle.empty()) {
    if (!IsValidVehicleId(hello.vehicle_id())) {
      service_->CountProtocolError();
      End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "Hello.vehicle_id missing or not a valid vehicle id"),
          false);
      return;
    }
    vehicle = hello.vehicle_id();
  } else if (!hello.vehicle_id().empty() && hello.vehicle_id() != cert_vehicle_) {
    if (service_->RefuseIdentityMismatch()) {
      spdlog::warn("event=identity_mismatch certificate_vehicle={} claimed_vehicle={} peer={}",
                   cert_vehicle_, hello.vehicle_id().substr(0, 64), peer_);
    }
    End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                     "Hello.vehicle_id does not match the client certificate"),
        false);
    return;
  }
  if (hello.first_unacked_seq() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    service_->CountProtocolError();
    End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first_unacked_seq out of range"), false);
    return;
  }
  vehicle_ = vehicle;
  hello_done_ = true;
  hello_ = hello;
  hello_.clear_vehicle_id();  // only what the log line below needs is kept
  service_->RegisterLive(vehicle_, shared_from_this(), hello);
}

void TelemetryStream::Registered(absl::StatusOr<std::shared_ptr<TelemetryStream>> replaced) {
  if (!replaced.ok()) {
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(replaced.status().message())),
        false);
    return;
  }
  const cit::v1::Hello& hello = hello_;
  if (*replaced) {
    (*replaced)->End(
        grpc::Status(grpc::StatusCode::ABORTED, "replaced by a newer stream for the same vehicle"),
        /*drain_writes=*/false);
  }
  spdlog::info(
      "event=stream_opened vehicle={} peer={} agent_version=\"{}\" first_unacked_seq={} "
      "backlog_records={} replaced_previous={}",
      vehicle_, peer_, hello.agent_version().substr(0, 64), hello.first_unacked_seq(),
      hello.backlog_records(), *replaced != nullptr);
  // The first batch is expected to be as large as the declared backlog allows.
  const size_t first_records =
      std::clamp<uint64_t>(hello.backlog_records(), 1, service_->options().max_batch_records);
  std::lock_guard<std::mutex> lock(mu_);
  estimate_ = {first_records, first_records * kEstimatedRecordBytes};
  StartNextReadLocked();
}

void TelemetryStream::HandleBatch(Reservation reserved) {
  bool accepting = true;
  const bool urgent = in_.has_urgent();
  cit::v1::RecordBatch* batch = urgent ? in_.mutable_urgent() : in_.mutable_batch();
  size_t bytes = 0;
  if (grpc::Status refused = service_->CheckBatchSize(vehicle_, *batch, &bytes); !refused.ok()) {
    ReleaseRead();
    service_->budget().Unreserve(reserved);
    End(refused, /*drain_writes=*/true);
    return;
  }
  const size_t records = static_cast<size_t>(batch->records_size());
  service_->SubmitBatch(shared_from_this(), vehicle_, batch, bytes, urgent, &accepting);
  // Not Clear(): a cleared repeated field keeps its emptied Record objects for reuse (~50 KiB
  // per stream after a 500-record batch; 5,000 connected vehicles hold ~250 MiB of them).
  ReleaseRead();
  if (!urgent) {
    // The next read is expected to look like this one. Urgent copies are small by nature and
    // say nothing about the backlog behind them.
    std::lock_guard<std::mutex> lock(mu_);
    estimate_ = {std::max<size_t>(records, 1), std::max<size_t>(bytes, 1)};
  }
  service_->budget().Unreserve(reserved);  // spent: the batch is charged now
  if (!accepting) return;                  // draining: Drain() ends the stream
  std::lock_guard<std::mutex> lock(mu_);
  StartNextReadLocked();
}

}  // namespace cit::dispatch::internal
