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
// Several instances on one database (issue 15 §3): with a lease (SetLease, on PostgreSQL) only
// the instance holding it escalates, checking its fencing token before each step; the others'
// ticks only try to take it. The instance that takes it (at start, or after the holder died and
// its lease expired) first reconciles: it stores the notifications of every step already made
// whose key is not in the outbox yet (the instances share it: postgres_outbox.h), so a step
// made just before a crash is still notified and one already queued is not queued again.
//
// Thread contract: Tick/Reconcile from one thread at a time (the escalator's own after Start).
#ifndef CIT_DISPATCH_SERVER_NOTIFY_ESCALATOR_H_
#define CIT_DISPATCH_SERVER_NOTIFY_ESCALATOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/alerts/escalation_lease.h"
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

  // Escalate only while holding `lease` (not owned; outlives the escalator), renewed at least
  // every `renew_every`; before Start.
  void SetLease(EscalationLease* lease, std::chrono::milliseconds renew_every);

  // Applies every step that is due now; returns how many steps were applied.
  size_t Tick();
  // Ticks so far (tests wait on it).
  uint64_t ticks() const { return ticks_.load(); }
  // Whether the last tick held the lease (always true without one).
  bool leading() const { return leading_.load(); }
  // Stores the notifications of steps already applied (see above); returns how many were new.
  size_t Reconcile();

  // Reconcile, then Tick every options.tick on a thread until Stop.
  void Start();
  void Stop();

 private:
  // Stores the notifications of `event`'s alert for policy step `step` (1-based).
  size_t Enqueue(const cit::v1::AlertEvent& event, const EscalationStep& step, uint32_t number);
  // With a lease: renews or takes it (reconciling when taken); false when another instance
  // holds it or the database cannot be asked.
  bool HoldLease();
  // With a lease: whether it is still held under the token of this tick (before each step).
  bool StillHeld();

  AlertManager* alerts_;
  const NotifyOptions* options_;
  Outbox* outbox_;
  const Clock* clock_;
  const NotifyMetrics* metrics_;
  std::function<void()> queued_;
  EscalationLease* lease_ = nullptr;
  std::chrono::milliseconds renew_every_{1000};
  std::optional<uint64_t> token_;  // held under this token (Tick's thread)
  std::atomic<uint64_t> ticks_{0};
  std::atomic<bool> leading_{true};

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
