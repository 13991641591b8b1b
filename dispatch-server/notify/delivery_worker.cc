#include "dispatch-server/notify/delivery_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace cit::dispatch {
namespace {

// The longest the worker sleeps without being woken: a bound on how late a retry can be if
// the outbox's next due time could not be read.
constexpr std::chrono::seconds kMaxIdle(5);

}  // namespace

DeliveryWorker::DeliveryWorker(Outbox* outbox,
                               std::map<std::string, std::unique_ptr<Channel>> channels,
                               const NotifyOptions& options, const NotifyMetrics* metrics)
    : outbox_(outbox),
      channels_(std::move(channels)),
      max_attempts_(options.max_attempts),
      retry_base_(options.retry_base),
      retry_max_(options.retry_max),
      metrics_(metrics) {}

DeliveryWorker::~DeliveryWorker() { Stop(); }

void DeliveryWorker::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void DeliveryWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DeliveryWorker::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void DeliveryWorker::Loop() {
  while (true) {
    DeliverDue();
    Duration idle = kMaxIdle;
    absl::StatusOr<std::optional<Duration>> next = outbox_->NextDueIn(clock_.Now());
    if (next.ok() && next->has_value()) idle = std::clamp<Duration>(**next, Duration(0), kMaxIdle);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, idle, [this] { return stop_ || wake_; });
    if (stop_) return;
    wake_ = false;
  }
}

void DeliveryWorker::DeliverDue() {
  // Until nothing is due (a shared outbox hands out fewer than asked, see outbox.h), bounded so
  // that an outbox whose marks fail cannot keep this loop from waiting.
  for (size_t attempted = 0; attempted < kMaxPerPass;) {
    {
      // Checked before taking more: a stopping worker leaves no claim it will not attempt.
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    absl::StatusOr<std::vector<Notification>> due = outbox_->Due(clock_.Now(), kBatch);
    if (!due.ok()) {
      spdlog::error("event=notification_outbox_read_failed error=\"{}\"", due.status().ToString());
      return;
    }
    if (due->empty()) break;
    for (const Notification& n : *due) {
      {
        // A claim left here by a stop is taken again when it expires (postgres_outbox.h).
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      Attempt(n);
    }
    attempted += due->size();
  }
  if (metrics_ != nullptr && metrics_->pending() != nullptr) {
    absl::StatusOr<uint64_t> pending = outbox_->CountState("pending");
    if (pending.ok()) metrics_->pending()->Set(static_cast<double>(*pending));
  }
}

void DeliveryWorker::Attempt(const Notification& n) {
  const NotifyMetrics::PerChannel* m = metrics_ ? metrics_->For(n.channel) : nullptr;
  auto it = channels_.find(n.target);
  DeliveryResult result;
  if (it == channels_.end()) {
    // The target was removed from the config since the notification was stored.
    result = {false, "target \"" + n.target + "\" is no longer configured"};
  } else {
    result = it->second->Deliver(n);
  }
  const uint32_t attempts = n.attempts + 1;
  // Counted before the outbox is marked: whoever sees the new state sees the count too.
  if (result.delivered) {
    if (m) m->delivered->Increment();
    if (absl::Status s = outbox_->MarkDelivered(n.id, clock_.Now()); !s.ok()) {
      // Delivered but not marked: it will be sent again; the receiver drops it by its key.
      spdlog::error("event=notification_mark_failed key={} error=\"{}\"", n.key, s.ToString());
    }
    spdlog::info(
        "event=notification_delivered key={} target={} channel={} attempt={} "
        "detail=\"{}\"",
        n.key, n.target, n.channel, attempts, result.detail);
    return;
  }
  if (attempts >= max_attempts_ || it == channels_.end()) {
    if (m) m->failed->Increment();
    if (absl::Status s = outbox_->MarkFailed(n.id, attempts, result.detail); !s.ok()) {
      spdlog::error("event=notification_mark_failed key={} error=\"{}\"", n.key, s.ToString());
    }
    spdlog::error(
        "event=notification_failed key={} target={} channel={} attempts={} "
        "error=\"{}\" note=\"given up; the alert is still in the console\"",
        n.key, n.target, n.channel, attempts, result.detail);
    return;
  }
  auto backoff = retry_base_ * (int64_t{1} << std::min<uint32_t>(attempts - 1, 30));
  backoff = std::min<std::chrono::milliseconds>(backoff, retry_max_);
  if (m) m->retries->Increment();
  if (absl::Status s = outbox_->MarkRetry(n.id, attempts, clock_.Now(), backoff, result.detail);
      !s.ok()) {
    spdlog::error("event=notification_mark_failed key={} error=\"{}\"", n.key, s.ToString());
  }
  spdlog::warn(
      "event=notification_retry key={} target={} channel={} attempt={} retry_in_ms={} "
      "error=\"{}\"",
      n.key, n.target, n.channel, attempts, backoff.count(), result.detail);
}

}  // namespace cit::dispatch
