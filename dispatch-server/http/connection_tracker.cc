#include "dispatch-server/http/connection_tracker.h"

#include <vector>

namespace cit::dispatch {

bool ConnectionTracker::MakeRoom(bool* evicted) {
  *evicted = false;
  std::shared_ptr<TrackedConnection> victim;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int live = 0;
    for (const auto& [id, e] : open_) live += e.evicting ? 0 : 1;
    if (live < max_) return true;
    Entry* oldest = nullptr;
    for (auto& [id, e] : open_) {
      if (e.evicting || !e.idle_since) continue;
      if (oldest == nullptr || *e.idle_since < *oldest->idle_since) oldest = &e;
    }
    if (oldest == nullptr) return false;
    oldest->evicting = true;
    victim = oldest->connection.lock();
  }
  if (victim) victim->Evict();
  *evicted = true;
  return true;
}

uint64_t ConnectionTracker::Add(std::weak_ptr<TrackedConnection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_id_++;
  open_[id] = Entry{std::move(connection), std::chrono::steady_clock::now(), false};
  return id;
}

void ConnectionTracker::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(id);
}

void ConnectionTracker::SetIdle(uint64_t id, bool idle) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return;
  if (!idle) {
    it->second.idle_since.reset();
  } else if (!it->second.idle_since) {
    it->second.idle_since = std::chrono::steady_clock::now();
  }
}

void ConnectionTracker::EvictAll() {
  std::vector<std::shared_ptr<TrackedConnection>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, e] : open_) {
      e.evicting = true;
      if (auto c = e.connection.lock()) all.push_back(std::move(c));
    }
  }
  for (auto& c : all) c->Evict();
}

int ConnectionTracker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(open_.size());
}

}  // namespace cit::dispatch
