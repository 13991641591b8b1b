#include "dispatch-server/common/refusal_log.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace cit::dispatch {

RefusalLog::RefusalLog(std::string component, RefusalLogOptions options, Clock clock)
    : component_(std::move(component)), options_(options), clock_(std::move(clock)) {
  if (options_.flush_period > std::chrono::milliseconds::zero()) {
    timer_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!timer_cv_.wait_for(lock, options_.flush_period, [this] { return stopping_; })) {
        lock.unlock();
        FlushExpired();
        lock.lock();
      }
    });
  }
}

RefusalLog::~RefusalLog() {
  if (timer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    timer_cv_.notify_all();
    timer_.join();
  }
  Flush();
}

bool RefusalLog::Admit(std::string_view reason) {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(reason);
  if (it == windows_.end()) it = windows_.emplace(std::string(reason), Window{now}).first;
  Window& w = it->second;
  if (now - w.start >= options_.interval) {
    // Summaries are rare (one per reason and interval): writing it here, under mu_, keeps
    // it ordered before the lines of the new interval.
    if (w.suppressed > 0) Summarise(reason, w);
    w = Window{now};
  }
  if (w.logged < options_.burst) {
    ++w.logged;
    return true;
  }
  ++w.suppressed;
  return false;
}

void RefusalLog::Flush() {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [reason, w] : windows_) {
    if (w.suppressed > 0) Summarise(reason, w);
    w = Window{now};
  }
}

void RefusalLog::FlushExpired() {
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [reason, w] : windows_) {
    if (w.suppressed > 0 && now - w.start >= options_.interval) {
      Summarise(reason, w);
      w = Window{now};
    }
  }
}

void RefusalLog::Summarise(std::string_view reason, const Window& w) const {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(clock_() - w.start).count();
  spdlog::warn(
      "event=refusals_suppressed component={} reason={} count={} interval_s={} "
      "note=\"suppressed {} refusals of reason {} in the last {} s (counted in metrics)\"",
      component_, reason, w.suppressed, seconds, w.suppressed, reason, seconds);
}

}  // namespace cit::dispatch
