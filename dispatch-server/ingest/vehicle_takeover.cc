#include "dispatch-server/ingest/vehicle_takeover.h"

#include <utility>

namespace cit::dispatch {

VehicleTakeovers::VehicleTakeovers(Store* store, Done done)
    : store_(store), done_(std::move(done)), worker_([this] { Loop(); }) {}

VehicleTakeovers::~VehicleTakeovers() { Stop(); }

void VehicleTakeovers::Submit(std::string vehicle, Context ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      queue_.push_back({std::move(vehicle), std::move(ctx)});
      cv_.notify_one();
      return;
    }
  }
  done_(vehicle, std::move(ctx), absl::UnavailableError("server is shutting down"));
}

void VehicleTakeovers::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

void VehicleTakeovers::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Request r = std::move(queue_.front());
    queue_.pop_front();
    const bool stopping = stop_;
    lock.unlock();
    absl::StatusOr<uint64_t> token = stopping ? absl::UnavailableError("server is shutting down")
                                              : store_->TakeOwnership(r.vehicle);
    done_(r.vehicle, std::move(r.ctx), std::move(token));
    lock.lock();
  }
}

}  // namespace cit::dispatch
