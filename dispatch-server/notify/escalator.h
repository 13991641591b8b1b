// Escalation: on every tick, each OPEN alert (not acknowledged, not resolved) that matches a
// policy ([[escalation]], notify_config.h) goes through every step whose `after_s` has passed
// since the alert was detected and that it has not gone through yet (Alert.policy_step): the
// step becomes an ESCALATED alert event by actor "escalation" (hash-chained with the others,
// so it shows in the audit report and the console's history), may raise the severity, and
// stores one notification per target of the step whose filter matches the alert in the outbox.
// Acknowledging or resolving the alert stops its escalation.
//
// Time comes from the injected Clock: tests drive Tick() with a FakeClock, no sleeps.
//
// Crash safety: the event is made first, then the notifications are stored (unique idempotency
// key per alert, step and target). If the process dies in between, the event may be stored
// without its notifications: Reconcile() (run at start) stores them for every unresolved
// alert's steps; keys already present are left alone, so nothing is queued twice.
//
// Thread contract: Tick/Reconcile from one thread at a time (the escalator's own after Start).
#ifndef CIT_DISPATCH_SERVER_NOTIFY_ESCALATOR_H_
#define CIT_DISPATCH_SERVER_NOTIFY_ESCALATOR_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/notify/notify_config.h"
#include "dispatch-server/notify/notify_metrics.h"
#include "dispatch-server/notify/outbox.h"

namespace cit::dispatch {

class Escalator {
 public:
  // Not owned; all must outlive the escalator. `queued` is called after notifications were
  // stored (the delivery worker's Wake).
  Escalator(AlertManager* alerts, const NotifyOptions* options, Outbox* outbox, const Clock* clock,
            const NotifyMetrics* metrics, std::function<void()> queued);
  ~Escalator();
  Escalator(const Escalator&) = delete;
  Escalator& operator=(const Escalator&) = delete;

  // Applies every step that is due now; returns how many steps were applied.
  size_t Tick();
  // Stores the notifications of steps already applied (see above); returns how many were new.
  size_t Reconcile();

  // Reconcile, then Tick every options.tick on a thread until Stop.
  void Start();
  void Stop();

 private:
  // Stores the notifications of `event`'s alert for policy step `step` (1-based).
  size_t Enqueue(const cit::v1::AlertEvent& event, const EscalationStep& step, uint32_t number);

  AlertManager* alerts_;
  const NotifyOptions* options_;
  Outbox* outbox_;
  const Clock* clock_;
  const NotifyMetrics* metrics_;
  std::function<void()> queued_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The comment of a step's event: "escalation step 2 of 3: not acknowledged after 60 s;
// severity HIGH -> CRITICAL; notify supervisor, police".
std::string StepComment(const cit::v1::Alert& alert, const EscalationStep& step, uint32_t number,
                        size_t steps);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_ESCALATOR_H_
