#include "dispatch-server/notify/notify_metrics.h"

namespace cit::dispatch {

NotifyMetrics::NotifyMetrics(std::shared_ptr<MetricsRegistry> registry)
    : registry_(std::move(registry)) {
  if (registry_ == nullptr) return;
  for (const char* channel : {"webhook", "email", "exec"}) {
    const MetricLabels l = {{"channel", channel}};
    MetricsRegistry& m = *registry_;
    channels_[channel] = PerChannel{
        &m.GetCounter("cit_notifications_queued_total", "Notifications stored in the outbox", l),
        &m.GetCounter("cit_notifications_delivered_total",
                      "Notifications confirmed by their receiver", l),
        &m.GetCounter("cit_notifications_retries_total",
                      "Failed notification attempts that will be tried again", l),
        &m.GetCounter("cit_notifications_failed_total",
                      "Notifications given up after notify.max_attempts", l),
        &m.GetCounter("cit_notifications_refused_total",
                      "Notifications not stored because the outbox was full (notify.max_pending)",
                      l)};
  }
  pending_ = &registry_->GetGauge("cit_notifications_pending",
                                  "Notifications waiting in the outbox for delivery");
}

const NotifyMetrics::PerChannel* NotifyMetrics::For(const std::string& channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? nullptr : &it->second;
}

}  // namespace cit::dispatch
