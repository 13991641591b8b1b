#include "dispatch-server/api/fleet_feed.h"

#include <utility>

#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {

std::string FleetFingerprint(cit::v1::VehicleState v) {
  v.clear_last_fix_age_s();
  v.clear_last_seen_age_s();
  return SerializeDeterministic(v);
}

FleetFeed::FleetFeed(std::function<cit::v1::Fleet()> source, std::chrono::milliseconds throttle)
    : source_(std::move(source)), throttle_(throttle) {}

FleetFeed::~FleetFeed() { Stop(); }

void FleetFeed::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void FleetFeed::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int FleetFeed::Subscribe(Subscriber* subscriber) {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  if (ending_) return 0;
  subscribers_[next_id_] = subscriber;
  return next_id_++;
}

void FleetFeed::EndStreams() {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  ending_ = true;
  for (auto& [id, s] : subscribers_) s->OnEnd();
  subscribers_.clear();
}

void FleetFeed::Unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  subscribers_.erase(id);
}

void FleetFeed::Loop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, throttle_, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    PublishChanges();
    lock.lock();
  }
}

void FleetFeed::PublishChanges() {
  {
    std::lock_guard<std::mutex> lock(subscribers_mu_);
    if (subscribers_.empty()) return;  // nobody watches: skip the work
  }
  cit::v1::Fleet fleet = source_();
  std::vector<cit::v1::VehicleState> changed;
  for (cit::v1::VehicleState& v : *fleet.mutable_vehicles()) {
    std::string fingerprint = FleetFingerprint(v);
    std::string& last = last_[v.vehicle_id()];
    if (last == fingerprint) continue;
    last = std::move(fingerprint);
    changed.push_back(std::move(v));
  }
  if (changed.empty()) return;
  std::lock_guard<std::mutex> lock(subscribers_mu_);
  for (auto& [id, s] : subscribers_) s->OnVehicles(changed);
}

}  // namespace cit::dispatch
