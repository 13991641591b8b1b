#include "dispatch-server/http/session_store.h"

#include <utility>

#include "dispatch-server/http/random_token.h"

namespace cit::dispatch {

SessionStore::SessionStore(std::chrono::seconds ttl, std::chrono::seconds idle,
                           std::size_t max_sessions, WallClock clock)
    : ttl_(ttl), idle_(idle), max_sessions_(max_sessions), clock_(std::move(clock)) {}

bool SessionStore::Expired(const Session& s, std::chrono::system_clock::time_point now) const {
  return now >= s.expires || now - s.last_used >= idle_;
}

void SessionStore::SweepLocked(std::chrono::system_clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = Expired(it->second, now) ? sessions_.erase(it) : std::next(it);
  }
}

absl::StatusOr<Session> SessionStore::Create(std::string bearer_token, OperatorIdentity identity) {
  const auto now = clock_();
  Session s;
  s.id = RandomToken();
  s.csrf_token = RandomToken();
  s.bearer_token = std::move(bearer_token);
  s.identity = std::move(identity);
  s.expires = now + ttl_;
  s.last_used = now;
  std::lock_guard<std::mutex> lock(mu_);
  if (sessions_.size() >= max_sessions_) SweepLocked(now);
  if (sessions_.size() >= max_sessions_) {
    return absl::ResourceExhaustedError(
        "too many browser sessions; sign out unused ones or raise http.max_sessions");
  }
  sessions_.emplace(s.id, s);
  return s;
}

std::optional<Session> SessionStore::Find(const std::string& id) {
  if (id.empty()) return std::nullopt;
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (Expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

void SessionStore::Erase(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
}

std::size_t SessionStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

}  // namespace cit::dispatch
