#include "dispatch-server/api/fleet_watch.h"

#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace cit::dispatch {
namespace {

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the server is shutting down: watch the fleet again (on another instance, "
                      "or here once it is back)");
}

class FleetWatch final : public grpc::ServerWriteReactor<cit::v1::VehicleState>,
                         public FleetFeed::Subscriber {
 public:
  FleetWatch(FleetFeed* feed, const cit::v1::WatchFleetRequest& request)
      : feed_(feed), only_(request.vehicle_ids().begin(), request.vehicle_ids().end()) {
    // Subscribe first, then take the snapshot: a change in between is sent twice at worst,
    // never lost.
    subscription_ = feed_->Subscribe(this);
    if (subscription_ == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(ShuttingDown());
      return;
    }
    cit::v1::Fleet fleet = feed_->Snapshot();
    std::lock_guard<std::mutex> lock(mu_);
    for (const cit::v1::VehicleState& v : fleet.vehicles()) QueueLocked(v);
    PumpLocked();
  }

  void OnVehicles(const std::vector<cit::v1::VehicleState>& changed) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    for (const cit::v1::VehicleState& v : changed) QueueLocked(v);
    PumpLocked();
  }

  void OnEnd() override {
    std::lock_guard<std::mutex> lock(mu_);
    ending_ = true;
    if (!writing_) FinishLocked(ShuttingDown());
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) return FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
    if (cancelled_) return FinishLocked(grpc::Status::CANCELLED);
    if (ending_) return FinishLocked(ShuttingDown());
    PumpLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (!writing_) FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    feed_->Unsubscribe(subscription_);  // no OnVehicles after this returns
    delete this;
  }

 private:
  void QueueLocked(const cit::v1::VehicleState& v) {
    if (!only_.empty() && only_.count(v.vehicle_id()) == 0) return;
    auto [it, inserted] = pending_.insert_or_assign(v.vehicle_id(), v);
    if (inserted) order_.push_back(v.vehicle_id());
  }

  void PumpLocked() {
    if (writing_ || finished_ || order_.empty()) return;
    const std::string id = std::move(order_.front());
    order_.pop_front();
    auto it = pending_.find(id);
    current_ = std::move(it->second);
    pending_.erase(it);
    writing_ = true;
    StartWrite(&current_);
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  FleetFeed* feed_;
  const std::set<std::string> only_;
  int subscription_ = 0;
  std::mutex mu_;
  // Newest unsent state per vehicle, sent in the order vehicles first became pending.
  std::unordered_map<std::string, cit::v1::VehicleState> pending_;
  std::deque<std::string> order_;
  cit::v1::VehicleState current_;
  bool writing_ = false;
  bool cancelled_ = false;
  bool ending_ = false;  // the server is shutting down
  bool finished_ = false;
};

}  // namespace

grpc::ServerWriteReactor<cit::v1::VehicleState>* NewFleetWatch(
    FleetFeed* feed, const cit::v1::WatchFleetRequest& request) {
  return new FleetWatch(feed, request);
}

}  // namespace cit::dispatch
