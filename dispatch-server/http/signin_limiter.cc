#include "dispatch-server/http/signin_limiter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace cit::dispatch {

SigninLimiter::SigninLimiter(int max_failures, std::chrono::seconds window, WallClock clock)
    : max_failures_(max_failures), window_(window), clock_(std::move(clock)) {}

std::optional<std::chrono::seconds> SigninLimiter::RetryAfter(const std::string& address) {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(address);
  if (it == windows_.end()) return std::nullopt;
  const auto end = it->second.start + window_;
  if (now >= end) {
    windows_.erase(it);
    return std::nullopt;
  }
  if (it->second.failures < max_failures_) return std::nullopt;
  auto wait = std::chrono::ceil<std::chrono::seconds>(end - now);
  return std::max(wait, std::chrono::seconds(1));
}

void SigninLimiter::RecordFailure(const std::string& address) {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(address);
  if (it != windows_.end() && now >= it->second.start + window_) {
    windows_.erase(it);
    it = windows_.end();
  }
  if (it == windows_.end()) {
    if (windows_.size() >= kMaxAddresses) {
      auto oldest = std::min_element(windows_.begin(), windows_.end(), [](auto& a, auto& b) {
        return a.second.start < b.second.start;
      });
      windows_.erase(oldest);
    }
    it = windows_.emplace(address, Window{now, 0}).first;
    spdlog::warn("event=http_signin_failed client={} note=\"wrong or unknown token\"", address);
  }
  if (++it->second.failures == max_failures_) {
    spdlog::warn("event=http_signin_blocked client={} failures={} window_s={}", address,
                 it->second.failures, window_.count());
  }
}

void SigninLimiter::RecordSuccess(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  windows_.erase(address);
}

}  // namespace cit::dispatch
