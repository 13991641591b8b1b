// Browser sessions of the HTTP API: session id (the cit_session cookie) -> the operator's bearer
// token, identity and CSRF token. The token stays on the server; the browser only ever holds
// the random session id (HttpOnly cookie) and the CSRF token.
//
//   SessionStore sessions(options, [] { return std::chrono::system_clock::now(); });
//   Session s = *sessions.Create(token, identity);     // sign-in
//   std::optional<Session> s = sessions.Find(cookie);  // every request; refreshes idle time
//   sessions.Erase(cookie);                            // sign-out
//
// A session ends at created + ttl, or after `idle` without a request. The clock is injectable
// so tests expire sessions without sleeping.
//
// Thread contract: thread-safe (one mutex; no I/O under it).
#ifndef CIT_DISPATCH_SERVER_HTTP_SESSION_STORE_H_
#define CIT_DISPATCH_SERVER_HTTP_SESSION_STORE_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "dispatch-server/auth/roles.h"

namespace cit::dispatch {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

struct Session {
  std::string id;
  std::string csrf_token;
  std::string bearer_token;
  OperatorIdentity identity;
  std::chrono::system_clock::time_point expires;
  std::chrono::system_clock::time_point last_used;
};

class SessionStore {
 public:
  SessionStore(std::chrono::seconds ttl, std::chrono::seconds idle, std::size_t max_sessions,
               WallClock clock);

  // RESOURCE_EXHAUSTED when max_sessions live sessions exist.
  absl::StatusOr<Session> Create(std::string bearer_token, OperatorIdentity identity);
  // The live session with this id (its idle timer restarted), or nullopt (unknown or expired:
  // an expired one is removed).
  std::optional<Session> Find(const std::string& id);
  void Erase(const std::string& id);
  std::size_t size() const;
  std::chrono::seconds ttl() const { return ttl_; }

 private:
  bool Expired(const Session& s, std::chrono::system_clock::time_point now) const;
  void SweepLocked(std::chrono::system_clock::time_point now);

  const std::chrono::seconds ttl_;
  const std::chrono::seconds idle_;
  const std::size_t max_sessions_;
  const WallClock clock_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;  // guarded by mu_
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_SESSION_STORE_H_
