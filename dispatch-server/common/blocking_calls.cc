#include "dispatch-server/common/blocking_calls.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace cit::dispatch {

BlockingCalls::BlockingCalls(std::string name, int threads, size_t max_queued)
    : name_(std::move(name)), max_queued_(max_queued) {
  const int n = std::max(1, threads);
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] { Loop(); });
    // Linux thread names hold 15 characters.
    pthread_setname_np(threads_.back().native_handle(), name_.substr(0, 15).c_str());
  }
}

BlockingCalls::~BlockingCalls() { Stop(); }

bool BlockingCalls::Submit(std::function<void()> call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(call));
  }
  cv_.notify_one();
  return true;
}

size_t BlockingCalls::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BlockingCalls::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void BlockingCalls::Loop() {
  while (true) {
    std::function<void()> call;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      call = std::move(queue_.front());
      queue_.pop_front();
    }
    call();
  }
}

}  // namespace cit::dispatch
