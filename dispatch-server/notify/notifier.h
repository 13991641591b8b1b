// Escalation and notifications, assembled: the outbox (the instance's SQLite file, or the shared
// PostgreSQL database: outbox.h), one channel per configured target, the delivery worker and the
// escalator (docs/alerts.md).
//
//   absl::StatusOr<std::unique_ptr<Notifier>> n =
//       Notifier::Open(options, db_path, &alerts, &clock, metrics_registry);
//   // or, on PostgreSQL: Notifier::Open(options, *PostgresOutbox::Open(...), &alerts, ...)
//   (*n)->Start();   // delivers what a previous process left pending, then escalates
//   (*n)->Stop();
//
// Open reads every secret and password file, so a missing one stops the server at start with
// the file's name rather than at the first alert.
//
// Thread contract: Start/Stop from one thread.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_NOTIFIER_H_
#define CIT_DISPATCH_SERVER_NOTIFY_NOTIFIER_H_

#include <chrono>
#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/notify/delivery_worker.h"
#include "dispatch-server/notify/escalator.h"
#include "dispatch-server/notify/notify_config.h"
#include "dispatch-server/notify/notify_metrics.h"
#include "dispatch-server/notify/outbox.h"

namespace cit::dispatch {

class Notifier {
 public:
  // The outbox in the SQLite file at `database_path` (SqliteOutbox). `alerts` and `clock` must
  // outlive the notifier; `registry` may be null.
  static absl::StatusOr<std::unique_ptr<Notifier>> Open(NotifyOptions options,
                                                        const std::filesystem::path& database_path,
                                                        AlertManager* alerts, const Clock* clock,
                                                        std::shared_ptr<MetricsRegistry> registry);
  // With an outbox already opened (PostgresOutbox, shared by the instances).
  static absl::StatusOr<std::unique_ptr<Notifier>> Open(NotifyOptions options,
                                                        std::unique_ptr<Outbox> outbox,
                                                        AlertManager* alerts, const Clock* clock,
                                                        std::shared_ptr<MetricsRegistry> registry);
  ~Notifier();

  // Several instances on one database: escalate only while holding `lease` (escalator.h),
  // renewed every `renew_every`; before Start.
  void SetEscalationLease(std::unique_ptr<EscalationLease> lease,
                          std::chrono::milliseconds renew_every);

  void Start();
  void Stop();

  Outbox& outbox() { return *outbox_; }
  Escalator& escalator() { return *escalator_; }
  DeliveryWorker& worker() { return *worker_; }

 private:
  Notifier() = default;
  NotifyOptions options_;
  std::unique_ptr<NotifyMetrics> metrics_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<DeliveryWorker> worker_;
  std::unique_ptr<EscalationLease> lease_;  // outlives escalator_'s thread (Stop)
  std::unique_ptr<Escalator> escalator_;
};

// How long a claim in the shared outbox lasts: one attempt of the slowest target (its timeout)
// with room to mark it (2 x timeout + 2 s; 12 s with the default timeout).
std::chrono::milliseconds OutboxClaimDuration(const NotifyOptions& options);

// The channel for one target (reads its secret or password file).
absl::StatusOr<std::unique_ptr<Channel>> MakeChannel(const NotifyTarget& target);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_NOTIFIER_H_
