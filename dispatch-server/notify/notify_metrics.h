// Notification metrics, per channel (webhook, email, exec):
//   cit_notifications_queued_total     stored in the outbox
//   cit_notifications_delivered_total  confirmed by the receiver
//   cit_notifications_retries_total    failed attempts that will be tried again
//   cit_notifications_failed_total     given up after notify.max_attempts (state "failed")
//   cit_notifications_refused_total    not stored: the outbox was full (notify.max_pending)
//   cit_notifications_pending          waiting in the outbox (gauge)
//
// Thread contract: thread-safe (atomic counters).
#ifndef CIT_DISPATCH_SERVER_NOTIFY_NOTIFY_METRICS_H_
#define CIT_DISPATCH_SERVER_NOTIFY_NOTIFY_METRICS_H_

#include <map>
#include <memory>
#include <string>

#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

class NotifyMetrics {
 public:
  struct PerChannel {
    Counter* queued;
    Counter* delivered;
    Counter* retries;
    Counter* failed;
    Counter* refused;
  };
  // `registry` may be null (no metrics); otherwise it is kept alive.
  explicit NotifyMetrics(std::shared_ptr<MetricsRegistry> registry);
  // Counters of one channel; nullptr without a registry.
  const PerChannel* For(const std::string& channel) const;
  Gauge* pending() const { return pending_; }

 private:
  std::shared_ptr<MetricsRegistry> registry_;
  std::map<std::string, PerChannel> channels_;
  Gauge* pending_ = nullptr;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_NOTIFY_METRICS_H_
