// The delivery worker: one thread that takes due notifications from the outbox (at most
// kBatch at a time: the in-memory queue is bounded, the outbox holds the rest), hands each to
// its target's channel and marks the outcome. A failed attempt is retried after
// retry_base * 2^(attempts-1) (capped at retry_max); after max_attempts the notification is
// marked failed, logged as an error and counted. Pending notifications left by a previous
// process (a crash, a kill -9) are due at once after a restart; in a shared outbox
// (PostgresOutbox) every instance's worker delivers, and one left claimed by a dead instance is
// due again when its claim expires. The counts (notify_metrics.h) are this instance's attempts.
//
//   DeliveryWorker worker(outbox, channels, options, metrics);
//   worker.Start();
//   worker.Wake();        // after Enqueue: deliver now rather than at the next poll
//   worker.Stop();        // finishes the attempt in progress
//
// Thread contract: Start/Stop from one thread; Wake from any.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_DELIVERY_WORKER_H_
#define CIT_DISPATCH_SERVER_NOTIFY_DELIVERY_WORKER_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dispatch-server/notify/channel.h"
#include "dispatch-server/notify/notify_config.h"
#include "dispatch-server/notify/notify_metrics.h"
#include "dispatch-server/notify/outbox.h"

namespace cit::dispatch {

class DeliveryWorker {
 public:
  static constexpr size_t kBatch = 32;
  // At most this many attempts per pass; then the worker waits (woken, or the next due time).
  static constexpr size_t kMaxPerPass = 8 * kBatch;

  // Not owned: outbox, metrics. Channels by target name.
  DeliveryWorker(Outbox* outbox, std::map<std::string, std::unique_ptr<Channel>> channels,
                 const NotifyOptions& options, const NotifyMetrics* metrics);
  ~DeliveryWorker();
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  void Start();
  void Stop();
  void Wake();
  // One pass over what is due now (the thread's body; tests may call it directly).
  void DeliverDue();

 private:
  void Loop();
  void Attempt(const Notification& n);

  Outbox* outbox_;
  std::map<std::string, std::unique_ptr<Channel>> channels_;
  uint32_t max_attempts_;
  std::chrono::milliseconds retry_base_;
  std::chrono::milliseconds retry_max_;
  const NotifyMetrics* metrics_;
  SystemClock clock_;  // retries are real time, also under a fake escalation clock

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_DELIVERY_WORKER_H_
