#include "dispatch-server/api/alerts_service.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "dispatch-server/api/alert_history.h"
#include "dispatch-server/api/operator_identity.h"
#include "dispatch-server/common/grpc_status.h"

namespace cit::dispatch {
namespace {

constexpr size_t kReadBatch = 256;

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the server is shutting down: watch again with the last resume_token "
                      "received (on another instance, or here once it is back); nothing is missed");
}

}  // namespace

class AlertsService::WatchReactor final : public grpc::ServerWriteReactor<cit::v1::AlertEvent> {
 public:
  WatchReactor(AlertsService* service, const cit::v1::WatchAlertsRequest& req)
      : service_(service), alerts_(service->alerts_) {
    ++service_->watchers_;
    if (!service_->Enter(this)) {
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(ShuttingDown());
      return;
    }
    filter_.min_severity = req.min_severity();
    filter_.vehicle_ids.assign(req.vehicle_ids().begin(), req.vehicle_ids().end());
    if (!req.resume_token().empty()) {
      absl::Status s = StartFromToken(req.resume_token());
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        FinishLocked(ToGrpcStatus(s));
      }
    } else if (req.after_event_id() == 0) {
      WatchCursor as_of;
      std::vector<cit::v1::AlertEvent> open = alerts_->OpenSnapshot(filter_, &cursor_, &as_of);
      const std::string token = as_of.Encode();
      for (cit::v1::AlertEvent& e : open) {
        e.set_resume_token(token);
        pending_.push_back(std::move(e));
      }
    } else {
      cursor_ = alerts_->CursorAfterEvent(req.after_event_id());
    }
    listener_ = alerts_->AddListener([this] { Pump(); });
    Pump();
  }

  // A resume on any instance (watch_cursor.h): the log after the token's position, then this
  // instance's events the log does not have yet, then live. Reads the store (like a resume
  // from further back than memory): rare, once per reconnect.
  absl::Status StartFromToken(const std::string& token) {
    absl::StatusOr<WatchCursor> seen = WatchCursor::Decode(token);
    if (!seen.ok()) return seen.status();
    absl::StatusOr<AlertManager::ResumePoint> point = alerts_->PrepareResume();
    if (!point.ok()) return point.status();
    seen_ = *std::move(seen);
    log_cursor_ = seen_.log_through;
    log_through_ = point->log_through;
    own_tail_ = std::move(point->own_tail);
    cursor_ = point->stream_position;
    reading_log_ = true;
    return absl::OkStatus();
  }

  // Queues an event unless the watcher saw it before resuming; its token is what it has seen
  // here merged with what it had seen before.
  void Offer(cit::v1::AlertEvent event, const std::optional<WatchCursor>& here) {
    if (seen_.Seen(event.event_id())) return;
    if (here) {
      WatchCursor c = *here;
      for (const auto& [first, last] : seen_.seen) c.AddSeen(first, last);
      event.set_resume_token(c.Encode());
    }
    pending_.push_back(std::move(event));
  }

  // The resume's catch-up (StartFromToken) into pending_; false when it failed (finished).
  bool ReadLogLocked() {
    while (reading_log_ && pending_.empty()) {
      std::vector<std::pair<cit::v1::AlertEvent, WatchCursor>> read;
      absl::StatusOr<uint64_t> at = alerts_->ReadLog(log_cursor_, log_through_, kReadBatch, &read);
      if (!at.ok()) {
        FinishLocked(ToGrpcStatus(at.status()));
        return false;
      }
      log_cursor_ = *at;
      for (auto& [event, cursor] : read) {
        if (filter_.Matches(event.alert())) Offer(std::move(event), cursor);
      }
      if (log_cursor_ >= log_through_) {
        reading_log_ = false;
        for (auto& [event, cursor] : own_tail_) {
          if (filter_.Matches(event.alert())) Offer(std::move(event), cursor);
        }
        own_tail_.clear();
      }
    }
    return true;
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (finish_requested_ && !finished_) {
        finished_ = true;
        Finish(finish_status_);
        return;
      }
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
        return;
      }
    }
    Pump();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_->Leave(this);
    if (listener_ != 0) alerts_->RemoveListener(listener_);  // waits for a notification in progress
    --service_->watchers_;
    delete this;
  }

  // The server is shutting down (AlertsService::EndStreams).
  void End() {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(ShuttingDown());
  }

 private:
  // Starts the next write if none is in flight and an event is available.
  void Pump() {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_ || finished_ || finish_requested_) return;
    if (!ReadLogLocked()) return;
    // Read until something matches or the cursor stops moving: a read can examine events
    // without returning any (all filtered out, or it only reached the end of the stored part).
    while (pending_.empty()) {
      std::vector<cit::v1::AlertEvent> next;
      std::vector<std::optional<WatchCursor>> cursors;
      absl::StatusOr<uint64_t> cursor =
          alerts_->ReadEvents(cursor_, filter_, kReadBatch, &next, &cursors);
      if (!cursor.ok()) {
        FinishLocked(ToGrpcStatus(cursor.status()));
        return;
      }
      const bool moved = *cursor != cursor_;
      cursor_ = *cursor;
      for (size_t i = 0; i < next.size(); ++i) Offer(std::move(next[i]), cursors[i]);
      if (!moved) break;
    }
    if (pending_.empty()) return;
    current_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  // Finish exactly once, never with a write in flight (then OnWriteDone finishes).
  void FinishLocked(const grpc::Status& status) {
    if (finished_ || finish_requested_) return;
    if (writing_) {
      finish_requested_ = true;
      finish_status_ = status;
      return;
    }
    finished_ = true;
    Finish(status);
  }

  AlertsService* service_;
  AlertManager* alerts_;
  AlertFilter filter_;
  int listener_ = 0;
  std::mutex mu_;
  // Stream position of the last event examined (those up to it are sent or filtered out).
  uint64_t cursor_ = 0;
  // A resume from a token: what the watcher saw before (never sent again), and the catch-up
  // still to send before the live stream: log positions (log_cursor_, log_through_], then
  // own_tail_.
  WatchCursor seen_;
  bool reading_log_ = false;
  uint64_t log_cursor_ = 0;
  uint64_t log_through_ = 0;
  std::vector<std::pair<cit::v1::AlertEvent, WatchCursor>> own_tail_;
  std::deque<cit::v1::AlertEvent> pending_;
  cit::v1::AlertEvent current_;
  bool writing_ = false;
  bool finished_ = false;
  bool finish_requested_ = false;
  grpc::Status finish_status_;
};

bool AlertsService::Enter(WatchReactor* watch) {
  std::lock_guard<std::mutex> lock(open_mu_);
  if (ending_) return false;
  open_.insert(watch);
  return true;
}

void AlertsService::Leave(WatchReactor* watch) {
  std::lock_guard<std::mutex> lock(open_mu_);
  open_.erase(watch);
}

// Lock order: open_mu_, then a watch's own mutex (a watch never takes open_mu_ holding its own).
void AlertsService::EndStreams() {
  std::lock_guard<std::mutex> lock(open_mu_);
  ending_ = true;
  for (WatchReactor* watch : open_) watch->End();
}

grpc::ServerWriteReactor<cit::v1::AlertEvent>* AlertsService::WatchAlerts(
    grpc::CallbackServerContext*, const cit::v1::WatchAlertsRequest* req) {
  return new WatchReactor(this, *req);
}

grpc::Status AlertsService::ListAlerts(grpc::ServerContext*, const cit::v1::ListAlertsRequest* req,
                                       cit::v1::ListAlertsResponse* resp) {
  AlertFilter filter;
  filter.min_severity = req->min_severity();
  if (!req->vehicle_id().empty()) filter.vehicle_ids.push_back(req->vehicle_id());
  filter.run_id = req->run_id();
  for (int s : req->states()) filter.states.push_back(static_cast<cit::v1::AlertState>(s));
  for (cit::v1::Alert& a : alerts_->List(filter)) *resp->add_alerts() = std::move(a);
  return grpc::Status::OK;
}

grpc::Status AlertsService::ListAlertEvents(grpc::ServerContext*,
                                            const cit::v1::ListAlertEventsRequest* req,
                                            cit::v1::ListAlertEventsResponse* resp) {
  absl::StatusOr<cit::v1::Alert> alert = alerts_->Get(req->alert_id());
  if (!alert.ok()) return ToGrpcStatus(alert.status());
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> events = alerts_->EventsOf(req->alert_id());
  if (!events.ok()) return ToGrpcStatus(events.status());
  const size_t limit =
      req->limit() == 0 ? kDefaultHistoryEvents : std::min<size_t>(req->limit(), kMaxHistoryEvents);
  AlertHistory history = SelectHistory(std::move(*events), req->include_updated(), limit);
  *resp->mutable_alert() = std::move(*alert);
  for (cit::v1::AlertEvent& e : history.events) *resp->add_events() = std::move(e);
  resp->set_updated_omitted(history.updated_omitted);
  resp->set_events_omitted(history.events_omitted);
  return grpc::Status::OK;
}

grpc::Status AlertsService::AckAlert(grpc::ServerContext* ctx, const cit::v1::AckAlertRequest* req,
                                     cit::v1::Alert* resp) {
  absl::StatusOr<cit::v1::Alert> a =
      alerts_->Acknowledge(req->alert_id(), ActorOf(*ctx), req->comment());
  if (!a.ok()) return ToGrpcStatus(a.status());
  *resp = std::move(*a);
  return grpc::Status::OK;
}

grpc::Status AlertsService::ResolveAlert(grpc::ServerContext* ctx,
                                         const cit::v1::ResolveAlertRequest* req,
                                         cit::v1::Alert* resp) {
  absl::StatusOr<cit::v1::Alert> a =
      alerts_->Resolve(req->alert_id(), ActorOf(*ctx), req->comment());
  if (!a.ok()) return ToGrpcStatus(a.status());
  *resp = std::move(*a);
  return grpc::Status::OK;
}

}  // namespace cit::dispatch
