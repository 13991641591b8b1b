#include "dispatch-server/notify/escalator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dispatch-server/notify/payload.h"

namespace cit::dispatch {
namespace {

std::string SeverityShort(cit::v1::Severity s) {
  std::string name = cit::v1::Severity_Name(s);
  return name.rfind("SEVERITY_", 0) == 0 ? name.substr(9) : name;
}

}  // namespace

std::string StepComment(const cit::v1::Alert& alert, const EscalationStep& step, uint32_t number,
                        size_t steps) {
  std::string out = absl::StrCat("escalation step ", number, " of ", steps,
                                 ": not acknowledged after ", step.after.count(), " s");
  if (step.raise_to > alert.severity()) {
    absl::StrAppend(&out, "; severity ", SeverityShort(alert.severity()), " -> ",
                    SeverityShort(step.raise_to));
  }
  if (!step.notify.empty()) absl::StrAppend(&out, "; notify ", absl::StrJoin(step.notify, ", "));
  return out;
}

Escalator::Escalator(AlertManager* alerts, const NotifyOptions* options, Outbox* outbox,
                     const Clock* clock, const NotifyMetrics* metrics, std::function<void()> queued)
    : alerts_(alerts),
      options_(options),
      outbox_(outbox),
      clock_(clock),
      metrics_(metrics),
      queued_(std::move(queued)) {}

Escalator::~Escalator() { Stop(); }

void Escalator::SetLease(EscalationLease* lease, std::chrono::milliseconds renew_every) {
  lease_ = lease;
  renew_every_ = std::max(renew_every, std::chrono::milliseconds(1));
  leading_ = lease == nullptr;
}

bool Escalator::HoldLease() {
  if (lease_ == nullptr) return true;
  absl::StatusOr<std::optional<uint64_t>> token = lease_->HoldOrTake();
  if (!token.ok()) {
    // Unsure whether we still hold it: escalate nothing rather than maybe twice.
    spdlog::error("event=escalation_lease_failed error=\"{}\"", token.status().ToString());
  }
  const std::optional<uint64_t> now_held = token.ok() ? *token : std::nullopt;
  if (now_held && now_held != token_) {
    spdlog::info("event=escalation_lease_taken token={}", *now_held);
    token_ = now_held;
    Reconcile();
  } else if (!now_held && token_) {
    spdlog::warn("event=escalation_lease_lost token={}", *token_);
    token_.reset();
  }
  leading_ = now_held.has_value();
  return leading_;
}

bool Escalator::StillHeld() {
  if (lease_ == nullptr) return true;
  if (!token_) return false;
  absl::StatusOr<bool> held = lease_->Holds(*token_);
  if (held.ok() && *held) return true;
  spdlog::warn("event=escalation_lease_lost token={} error=\"{}\"", *token_,
               held.ok() ? "taken over or expired" : held.status().ToString());
  token_.reset();
  leading_ = false;
  return false;
}

size_t Escalator::Tick() {
  ++ticks_;
  if (options_->escalation.empty()) return 0;
  if (!HoldLease()) return 0;
  AlertFilter open;
  open.states = {cit::v1::ALERT_STATE_OPEN};
  const SysTime now = clock_->Now();
  size_t applied = 0;
  for (const cit::v1::Alert& listed : alerts_->List(open)) {
    cit::v1::Alert alert = listed;
    const SysTime detected = FromProto(alert.detected_time());
    while (true) {
      const EscalationPolicy* policy = options_->PolicyFor(alert);
      if (policy == nullptr || alert.policy_step() >= policy->steps.size()) break;
      const uint32_t number = alert.policy_step() + 1;
      const EscalationStep& step = policy->steps[number - 1];
      if (now - detected < step.after) break;
      // The fencing check: an instance paused past its lease (the other took it over) makes
      // no step; what remains is the moment between this check and the event.
      if (!StillHeld()) return applied;
      absl::StatusOr<cit::v1::AlertEvent> event =
          alerts_->EscalateByPolicy(alert.alert_id(), number, step.raise_to,
                                    StepComment(alert, step, number, policy->steps.size()));
      if (!event.ok()) {
        // Acknowledged or resolved meanwhile: escalation stops there.
        if (!absl::IsFailedPrecondition(event.status())) {
          spdlog::error("event=escalation_failed alert_id={} step={} error=\"{}\"",
                        alert.alert_id(), number, event.status().ToString());
        }
        break;
      }
      spdlog::info("event=alert_escalated alert_id={} step={} event_id={} comment=\"{}\"",
                   alert.alert_id(), number, event->event_id(), event->comment());
      ++applied;
      Enqueue(*event, step, number);
      alert = event->alert();
    }
  }
  return applied;
}

size_t Escalator::Reconcile() {
  size_t added = 0;
  AlertFilter unresolved;
  unresolved.states = {cit::v1::ALERT_STATE_OPEN, cit::v1::ALERT_STATE_ACKNOWLEDGED};
  for (const cit::v1::Alert& alert : alerts_->List(unresolved)) {
    const EscalationPolicy* policy = options_->PolicyFor(alert);
    if (policy == nullptr) continue;
    for (uint32_t number = 1; number <= alert.policy_step() && number <= policy->steps.size();
         ++number) {
      cit::v1::AlertEvent event;
      event.set_type(cit::v1::ALERT_EVENT_TYPE_ESCALATED);
      event.set_actor("escalation");
      event.set_comment(
          StepComment(alert, policy->steps[number - 1], number, policy->steps.size()));
      *event.mutable_alert() = alert;
      added += Enqueue(event, policy->steps[number - 1], number);
    }
  }
  if (added > 0) {
    spdlog::warn(
        "event=notifications_reconciled added={} note=\"escalation steps already made had no "
        "notifications in the outbox yet (the process died between a step and its "
        "notifications)\"",
        added);
  }
  return added;
}

size_t Escalator::Enqueue(const cit::v1::AlertEvent& event, const EscalationStep& step,
                          uint32_t number) {
  size_t added = 0;
  const cit::v1::Alert& alert = event.alert();
  for (const std::string& name : step.notify) {
    const NotifyTarget* target = options_->Target(name);
    if (target == nullptr || !target->filter.Matches(alert)) continue;
    Notification n;
    n.key = IdempotencyKey(alert.alert_id(), number, name);
    n.target = name;
    n.channel = std::string(ChannelName(target->channel));
    n.body = BuildPayload(event, number, name, n.key);
    const NotifyMetrics::PerChannel* m = metrics_ ? metrics_->For(n.channel) : nullptr;
    absl::StatusOr<bool> stored = outbox_->Enqueue(n, clock_->Now());
    if (absl::IsResourceExhausted(stored.status())) {
      spdlog::critical("event=notification_refused key={} target={} error=\"{}\"", n.key, name,
                       std::string(stored.status().message()));
      if (m) m->refused->Increment();
      continue;
    }
    if (!stored.ok()) {
      spdlog::error("event=notification_store_failed key={} error=\"{}\"", n.key,
                    stored.status().ToString());
      continue;
    }
    if (!*stored) continue;  // already queued before a restart
    spdlog::info("event=notification_queued key={} target={} channel={}", n.key, name, n.channel);
    if (m) m->queued->Increment();
    ++added;
  }
  if (added > 0 && queued_) queued_();
  return added;
}

void Escalator::Start() {
  // With a lease, the instance that takes it reconciles (HoldLease): another may be escalating.
  if (lease_ == nullptr) Reconcile();
  if (thread_.joinable()) return;
  // The holder renews well within its lease even when the policy ticks rarely.
  const std::chrono::milliseconds wait =
      lease_ == nullptr ? options_->tick : std::min(options_->tick, renew_every_);
  thread_ = std::thread([this, wait] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      Tick();
      lock.lock();
      cv_.wait_for(lock, wait, [this] { return stop_; });
    }
  });
}

void Escalator::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (lease_ != nullptr && token_) {
    // After the last tick: no step of ours can follow the hand-over.
    absl::Status released = lease_->Release(*token_);
    spdlog::info("event=escalation_lease_released token={} ok={}", *token_, released.ok());
    token_.reset();
    leading_ = false;
  }
}

}  // namespace cit::dispatch
