// Rate limit for failed browser sign-ins, per client address: after `max_failures` failures
// within `window`, the address must wait until the window ends (HTTP 429 with Retry-After).
// Failures are logged aggregated: the first failure of a window, then one line when the address
// is blocked, with the count, never one line per attempt.
//
//   SigninLimiter limiter(5, std::chrono::seconds(60), clock);
//   if (auto wait = limiter.RetryAfter(addr)) return 429;
//   if (!ok) limiter.RecordFailure(addr); else limiter.RecordSuccess(addr);
//
// Memory is bounded: at most kMaxAddresses are tracked; the oldest window is dropped first.
//
// Thread contract: thread-safe.
#ifndef CIT_DISPATCH_SERVER_HTTP_SIGNIN_LIMITER_H_
#define CIT_DISPATCH_SERVER_HTTP_SIGNIN_LIMITER_H_

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "dispatch-server/http/session_store.h"

namespace cit::dispatch {

class SigninLimiter {
 public:
  static constexpr std::size_t kMaxAddresses = 10000;

  SigninLimiter(int max_failures, std::chrono::seconds window, WallClock clock);

  // Seconds to wait when `address` is blocked now, else nullopt.
  std::optional<std::chrono::seconds> RetryAfter(const std::string& address);
  void RecordFailure(const std::string& address);
  void RecordSuccess(const std::string& address);

 private:
  struct Window {
    std::chrono::system_clock::time_point start;
    int failures = 0;
  };

  const int max_failures_;
  const std::chrono::seconds window_;
  const WallClock clock_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;  // guarded by mu_
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_SIGNIN_LIMITER_H_
