#include "dispatch-server/alerts/alert_manager.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {
namespace {

// An operator's acknowledgement returns only once it is stored; this long at most.
constexpr std::chrono::milliseconds kOperatorActionStoreTimeout(5000);

// Each occurrence keeps its own time: a client reading the alert sees when the condition came
// back, not only when it first happened.
void RecordOccurrence(cit::v1::Alert& alert, SysTime event_time, int keep) {
  const google::protobuf::Timestamp t = ToProto(event_time);
  *alert.mutable_last_event_time() = t;
  auto* times = alert.mutable_occurrence_times();
  *times->Add() = t;
  if (times->size() > keep) times->DeleteSubrange(0, times->size() - keep);
}

}  // namespace

bool AlertFilter::Matches(const cit::v1::Alert& alert) const {
  if (alert.severity() < min_severity) return false;
  if (!run_id.empty() && alert.run_id() != run_id) return false;
  if (!vehicle_ids.empty() &&
      std::find(vehicle_ids.begin(), vehicle_ids.end(), alert.vehicle_id()) == vehicle_ids.end()) {
    return false;
  }
  if (!states.empty() && std::find(states.begin(), states.end(), alert.state()) == states.end()) {
    return false;
  }
  return true;
}

AlertManager::AlertManager(AlertStore* store, const Clock* clock, size_t memory_events,
                           uint64_t id_block)
    : store_(store),
      clock_(clock),
      memory_events_(std::max<size_t>(1, memory_events)),
      id_block_(std::max<uint64_t>(1, id_block)) {}

AlertManager::~AlertManager() {
  {
    std::lock_guard<std::mutex> lock(follow_mu_);
    follow_stop_ = true;
  }
  follow_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
  {
    std::lock_guard<std::mutex> lock(persist_mu_);
    persist_stop_ = true;
  }
  persist_cv_.notify_all();
  if (persister_.joinable()) persister_.join();
}

absl::Status AlertManager::Load() {
  if (store_ == nullptr) return absl::OkStatus();
  absl::StatusOr<AlertStore::Snapshot> snap = store_->Load(memory_events_);
  if (!snap.ok()) return snap.status();
  std::lock_guard<std::mutex> lock(mu_);
  alerts_.clear();
  open_.clear();
  events_.clear();
  last_event_of_.clear();
  for (cit::v1::Alert& a : snap->alerts) {
    if (a.state() != cit::v1::ALERT_STATE_RESOLVED) {
      open_[Key{a.vehicle_id(), a.kind(), a.subject()}] = a.alert_id();
    }
    const uint64_t id = a.alert_id();
    alerts_[id] = std::move(a);
  }
  last_position_ = 0;
  own_followed_through_ = 0;
  own_made_through_ = 0;
  // Fewer events than asked for: the store holds nothing older than these.
  const bool store_has_older = snap->recent_events.size() >= memory_events_;
  // Log positions run 1, 2, 3... (each append extends the chain by one): the recent events
  // end at log_position.
  uint64_t log_position =
      snap->log_position - std::min<uint64_t>(snap->log_position, snap->recent_events.size());
  for (cit::v1::AlertEvent& e : snap->recent_events) {
    last_event_of_[e.alert().alert_id()] = e.event_id();
    const uint64_t position = NextPositionLocked(e.event_id());
    Published p{position, /*followed=*/false, std::move(e)};
    p.log_through = ++log_position;
    events_.push_back(std::move(p));
  }
  dropped_through_ = store_has_older && !events_.empty() ? events_.front().position - 1 : 0;
  // Ids that were reserved may have been shown before a crash without being stored: the next
  // block the store reserves lies above them; watchers resume from here.
  last_event_id_ = std::max(snap->last_event_id, snap->reserved_event_id);
  last_position_ = std::max(last_position_, last_event_id_);
  next_alert_id_ = 1;
  alert_ids_through_ = 0;
  next_event_id_ = 1;
  event_ids_through_ = 0;
  own_event_blocks_.clear();
  follow_position_ = snap->log_position;
  stored_event_id_ = last_event_id_;
  if (!persister_.joinable()) persister_ = std::thread([this] { PersistLoop(); });
  return absl::OkStatus();
}

absl::Status AlertManager::ReserveLocked(bool new_alert) {
  const bool need_events = next_event_id_ > event_ids_through_;
  const bool need_alerts = new_alert && next_alert_id_ > alert_ids_through_;
  if (!need_events && !need_alerts) return absl::OkStatus();
  if (store_ == nullptr) {
    // Memory only: nobody else hands out ids, one endless block.
    alert_ids_through_ = event_ids_through_ = std::numeric_limits<uint64_t>::max();
    return absl::OkStatus();
  }
  absl::StatusOr<AlertStore::IdBlocks> block =
      store_->ReserveIds(need_alerts ? id_block_ : 0, need_events ? id_block_ : 0);
  if (!block.ok()) {
    spdlog::error("event=alert_id_reservation_failed error=\"{}\"", block.status().ToString());
    return block.status();
  }
  if (need_alerts) {
    next_alert_id_ = block->alert_first;
    alert_ids_through_ = block->alert_last;
  }
  if (need_events) {
    next_event_id_ = block->event_first;
    event_ids_through_ = block->event_last;
    own_event_blocks_.emplace_back(block->event_first, block->event_last);
  }
  return absl::OkStatus();
}

void AlertManager::PersistLoop() {
  std::chrono::milliseconds backoff(50);
  std::unique_lock<std::mutex> lock(persist_mu_);
  while (true) {
    persist_cv_.wait(lock, [this] { return persist_stop_ || !to_store_.empty(); });
    if (to_store_.empty()) return;  // stopping, nothing left
    std::vector<cit::v1::AlertEvent> group;
    group.swap(to_store_);
    lock.unlock();
    std::vector<AlertStore::FencedEvent> fenced;
    absl::Status s = store_->Append(group, &fenced);
    // Before the events count as stored: whoever waits for them then finds the memory fixed.
    if (s.ok() && !fenced.empty()) DropFenced(fenced, group);
    lock.lock();
    if (s.ok()) {
      stored_event_id_ = group.back().event_id();
      backoff = std::chrono::milliseconds(50);
      stored_cv_.notify_all();
      continue;
    }
    // Keep the events (ahead of newer ones) and retry: an alert must never be dropped.
    spdlog::error(
        "event=alert_store_failed events={} first_event_id={} retry_in_ms={} error=\"{}\"",
        group.size(), group.front().event_id(), backoff.count(), s.ToString());
    group.insert(group.end(), std::make_move_iterator(to_store_.begin()),
                 std::make_move_iterator(to_store_.end()));
    to_store_ = std::move(group);
    if (persist_stop_) {
      spdlog::error("event=alert_store_abandoned events={} note=\"shutting down\"",
                    to_store_.size());
      return;
    }
    persist_cv_.wait_for(lock, backoff, [this] { return persist_stop_; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

absl::Status AlertManager::StartFollowing(FollowOptions options) {
  if (store_ == nullptr) return absl::FailedPreconditionError("no store to follow");
  if (follower_.joinable()) return absl::FailedPreconditionError("already following");
  options.batch = std::max<size_t>(1, options.batch);
  options.interval = std::max(options.interval, std::chrono::milliseconds(1));
  follower_ = std::thread([this, options] { FollowLoop(options); });
  return absl::OkStatus();
}

void AlertManager::FollowLoop(FollowOptions options) {
  constexpr std::chrono::milliseconds kMaxBackoff(5000);
  std::chrono::milliseconds backoff = options.interval;
  uint64_t failures = 0;
  std::unique_lock<std::mutex> lock(follow_mu_);
  while (!follow_stop_) {
    lock.unlock();
    absl::StatusOr<size_t> read = FollowOnce(options.batch);
    lock.lock();
    std::chrono::milliseconds wait = options.interval;
    if (read.ok()) {
      if (failures > 0) spdlog::info("event=alert_follow_recovered failures={}", failures);
      failures = 0;
      backoff = options.interval;
      if (*read == options.batch) wait = std::chrono::milliseconds(0);  // more may be waiting
    } else {
      // Nothing is skipped: the next read starts at the same position.
      ++failures;
      if (follow_errors_ != nullptr) follow_errors_->Increment();
      spdlog::error("event=alert_follow_failed failures={} retry_in_ms={} error=\"{}\"", failures,
                    backoff.count(), read.status().ToString());
      wait = backoff;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    follow_cv_.wait_for(lock, wait, [this] { return follow_stop_; });
  }
}

absl::Status AlertManager::CatchUp() {
  if (store_ == nullptr) return absl::OkStatus();
  constexpr size_t kBatch = 500;
  while (true) {
    absl::StatusOr<size_t> read = FollowOnce(kBatch);
    if (!read.ok()) return read.status();
    if (*read < kBatch) return absl::OkStatus();
  }
}

absl::StatusOr<size_t> AlertManager::FollowOnce(size_t batch) {
  uint64_t after = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    after = follow_position_;
  }
  // Read without the mutex: the monitor raises alerts meanwhile.
  absl::StatusOr<std::vector<AlertStore::LoggedEvent>> logged =
      store_->EventsAfterPosition(after, batch);
  if (!logged.ok()) return logged.status();
  uint64_t applied = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (AlertStore::LoggedEvent& e : *logged) {
      if (e.position <= follow_position_) continue;  // Load moved past it meanwhile
      follow_position_ = e.position;
      if (IsOwnEventLocked(e.event.event_id())) {  // published when it was made
        own_followed_through_ = std::max(own_followed_through_, e.event.event_id());
        continue;
      }
      ApplyFollowedLocked(std::move(e.event));
      ++applied;
    }
  }
  if (applied > 0) {
    if (followed_total_ != nullptr) followed_total_->Increment(applied);
    Notify(applied);
  }
  return logged->size();
}

bool AlertManager::IsOwnEventLocked(uint64_t event_id) const {
  for (auto it = own_event_blocks_.rbegin(); it != own_event_blocks_.rend(); ++it) {
    if (event_id >= it->first && event_id <= it->second) return true;
  }
  return false;
}

namespace {

// Two instances may change one alert at once (the monitor of one updates it while an operator
// acknowledges it on the other): the higher revision wins, and the lifecycle never goes back
// (acknowledged or resolved on either stays so, with the operators' actions).
cit::v1::Alert MergeAlert(const cit::v1::Alert& mine, const cit::v1::Alert& theirs) {
  const bool theirs_newer = theirs.revision() >= mine.revision();
  cit::v1::Alert out = theirs_newer ? theirs : mine;
  const cit::v1::Alert& other = theirs_newer ? mine : theirs;
  if (other.state() > out.state()) out.set_state(other.state());  // OPEN < ACK < RESOLVED
  if (other.actions_size() > out.actions_size()) *out.mutable_actions() = other.actions();
  return out;
}

}  // namespace

void AlertManager::ApplyFollowedLocked(cit::v1::AlertEvent event) {
  const uint64_t id = event.alert().alert_id();
  auto known = alerts_.find(id);
  cit::v1::Alert alert =
      known == alerts_.end() ? event.alert() : MergeAlert(known->second, event.alert());
  Key key{alert.vehicle_id(), alert.kind(), alert.subject()};
  if (alert.state() == cit::v1::ALERT_STATE_RESOLVED) {
    auto open = open_.find(key);
    if (open != open_.end() && open->second == id) open_.erase(open);
  } else {
    // The instance that evaluates the vehicle now continues this alert rather than opening a
    // second one for the same condition.
    open_[std::move(key)] = id;
  }
  alerts_[id] = std::move(alert);
  last_event_of_[id] = event.event_id();
  const uint64_t position = NextPositionLocked(event.event_id());
  events_.push_back(PublishedNowLocked(position, /*followed=*/true, std::move(event)));
  TrimMemoryLocked();
}

AlertManager::Published AlertManager::PublishedNowLocked(uint64_t position, bool followed,
                                                         cit::v1::AlertEvent event) const {
  Published p{position, followed, std::move(event)};
  p.log_through = follow_position_;
  p.own_covered = own_followed_through_;
  p.own_last = own_made_through_;
  return p;
}

WatchCursor AlertManager::CursorOfLocked(uint64_t log_through, uint64_t own_covered,
                                         uint64_t own_last) const {
  WatchCursor c;
  c.log_through = log_through;
  // Own ids in (own_covered, own_last], block by block (the blocks between belong to others).
  for (auto it = own_event_blocks_.rbegin(); it != own_event_blocks_.rend(); ++it) {
    if (it->second <= own_covered) break;
    const uint64_t first = std::max(it->first, own_covered + 1);
    const uint64_t last = std::min(it->second, own_last);
    c.AddSeen(first, last);  // empty when first > last
  }
  return c;
}

absl::Status AlertManager::WaitStoredThrough(uint64_t event_id,
                                             std::chrono::milliseconds timeout) const {
  if (store_ == nullptr || stored_event_id_.load() >= event_id) return absl::OkStatus();
  std::unique_lock<std::mutex> lock(persist_mu_);
  if (!stored_cv_.wait_for(lock, timeout, [&] { return stored_event_id_.load() >= event_id; })) {
    return absl::DeadlineExceededError(
        absl::StrCat("alert event ", event_id, " is recorded but not stored yet (store failing)"));
  }
  return absl::OkStatus();
}

absl::Status AlertManager::WaitStored(std::chrono::milliseconds timeout) const {
  uint64_t last = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = last_event_id_;
  }
  return WaitStoredThrough(last, timeout);
}

absl::Status AlertManager::EmitLocked(cit::v1::Alert& alert, cit::v1::AlertEventType type,
                                      const std::string& actor, const std::string& comment) {
  if (absl::Status s = ReserveLocked(/*new_alert=*/false); !s.ok()) return s;
  alert.set_revision(alert.revision() + 1);
  cit::v1::AlertEvent event;
  event.set_event_id(next_event_id_);
  event.set_type(type);
  event.set_actor(actor);
  event.set_comment(comment);
  *event.mutable_time() = ToProto(clock_->Now());
  *event.mutable_alert() = alert;
  last_event_id_ = next_event_id_++;
  own_made_through_ = last_event_id_;
  last_event_of_[alert.alert_id()] = last_event_id_;
  if (store_ != nullptr) {
    std::lock_guard<std::mutex> lock(persist_mu_);
    to_store_.push_back(event);
    persist_cv_.notify_one();
  }
  events_.push_back(
      PublishedNowLocked(NextPositionLocked(last_event_id_), /*followed=*/false, std::move(event)));
  TrimMemoryLocked();
  return absl::OkStatus();
}

uint64_t AlertManager::NextPositionLocked(uint64_t event_id) {
  last_position_ = std::max(last_position_ + 1, event_id);
  return last_position_;
}

void AlertManager::TrimMemoryLocked() {
  // Memory keeps every event not yet stored: ReadEvents serves older ones from the store.
  while (events_.size() > memory_events_ &&
         (events_.front().followed || events_.front().event.event_id() <= stored_event_id_)) {
    dropped_through_ = events_.front().position;
    events_.pop_front();
  }
}

void AlertManager::SetMetrics(std::shared_ptr<MetricsRegistry> registry) {
  metrics_ = std::move(registry);
  for (int k = cit::v1::AlertKind_MIN; k <= cit::v1::AlertKind_MAX; ++k) {
    if (!cit::v1::AlertKind_IsValid(k) || k == cit::v1::ALERT_KIND_UNSPECIFIED) continue;
    std::string name = cit::v1::AlertKind_Name(static_cast<cit::v1::AlertKind>(k));
    if (name.rfind("ALERT_KIND_", 0) == 0) name = name.substr(11);
    opened_[k] = &metrics_->GetCounter("cit_alerts_opened_total", "Alerts opened, by kind",
                                       {{"kind", name}});
  }
  events_total_ = &metrics_->GetCounter(
      "cit_alert_events_total",
      "Alert events (raised, updated, cleared, acknowledged, resolved) published");
  followed_total_ = &metrics_->GetCounter(
      "cit_alert_events_followed_total",
      "Alert events stored by other instances on the same database and published here");
  follow_errors_ = &metrics_->GetCounter(
      "cit_alert_follow_errors_total",
      "Failed reads of the alert-event log for other instances' events (retried)");
  fenced_total_ = &metrics_->GetCounter(
      "cit_alerts_fenced_total",
      "Alert events of this instance's monitor not stored because another instance owns the "
      "vehicle now (fencing)");
  record_to_alert_ = &metrics_->GetHistogram(
      "cit_record_to_alert_seconds",
      "From the ingest receiving a live record to the alert event it raised being published to "
      "watchers",
      Histogram::ExponentialBounds(10e-6, 1.25, 56));
}

absl::StatusOr<uint64_t> AlertManager::Raise(
    const Owner& owner, const AlertSignal& signal, double delay_s,
    std::optional<std::chrono::system_clock::time_point> record_received) {
  bool opened = false;
  const SysTime now = clock_->Now();
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Key key{owner.vehicle_id, signal.kind, signal.subject};
    auto it = open_.find(key);
    if (it == open_.end()) {
      if (absl::Status s = ReserveLocked(/*new_alert=*/true); !s.ok()) return s;
      cit::v1::Alert alert;
      alert.set_alert_id(next_alert_id_);
      alert.set_vehicle_id(owner.vehicle_id);
      alert.set_run_id(owner.run_id);
      alert.set_kind(signal.kind);
      alert.set_subject(signal.subject);
      alert.set_severity(signal.severity);
      *alert.mutable_event_time() = ToProto(signal.event_time);
      *alert.mutable_detected_time() = ToProto(now);
      if (signal.position) {
        alert.mutable_position()->set_lat_deg(signal.position->lat_deg);
        alert.mutable_position()->set_lon_deg(signal.position->lon_deg);
      }
      alert.set_details(signal.details);
      alert.set_state(cit::v1::ALERT_STATE_OPEN);
      alert.set_delayed(delay_s > 0);
      alert.set_delay_s(std::max(0.0, delay_s));
      alert.set_occurrences(1);
      alert.set_escalation_step(signal.escalation_step);
      RecordOccurrence(alert, signal.event_time, kOccurrenceTimesKept);
      alert.set_record_seq(signal.record_seq);
      alert.set_plan_version(owner.plan_version);
      absl::Status s = EmitLocked(alert, cit::v1::ALERT_EVENT_TYPE_RAISED);
      if (!s.ok()) return s;
      ++next_alert_id_;
      opened = true;
      id = alert.alert_id();
      open_.emplace(std::move(key), id);
      alerts_.emplace(id, std::move(alert));
    } else {
      id = it->second;
      cit::v1::Alert& alert = alerts_[id];
      cit::v1::Alert before = alert;
      // Escalation steps count within one occurrence: a condition that comes back starts
      // again from its own step.
      const bool again = alert.has_condition_cleared_time() || signal.momentary;
      const bool worse = signal.severity > alert.severity() ||
                         (!again && signal.escalation_step > alert.escalation_step());
      cit::v1::AlertEventType type =
          worse ? cit::v1::ALERT_EVENT_TYPE_ESCALATED : cit::v1::ALERT_EVENT_TYPE_UPDATED;
      if (again) {
        // The condition came back (or the momentary input fired again) before anyone resolved
        // the alert: same alert, once more, at its own time.
        alert.clear_condition_cleared_time();
        alert.set_occurrences(alert.occurrences() + 1);
        RecordOccurrence(alert, signal.event_time, kOccurrenceTimesKept);
        if (type != cit::v1::ALERT_EVENT_TYPE_ESCALATED) {
          type = cit::v1::ALERT_EVENT_TYPE_REOCCURRED;
        }
      }
      alert.set_severity(std::max(alert.severity(), signal.severity));
      alert.set_escalation_step(again ? signal.escalation_step
                                      : std::max(alert.escalation_step(), signal.escalation_step));
      if (!signal.details.empty()) alert.set_details(signal.details);
      if (signal.position) {
        alert.mutable_position()->set_lat_deg(signal.position->lat_deg);
        alert.mutable_position()->set_lon_deg(signal.position->lon_deg);
      }
      if (alert.run_id().empty()) alert.set_run_id(owner.run_id);
      absl::Status s = EmitLocked(alert, type);
      if (!s.ok()) {
        alert = std::move(before);
        return s;
      }
    }
  }
  Notify();
  if (record_to_alert_ != nullptr && record_received) {
    record_to_alert_->Observe(
        std::chrono::duration<double>(std::chrono::system_clock::now() - *record_received).count());
  }
  if (opened && opened_[signal.kind] != nullptr) opened_[signal.kind]->Increment();
  return id;
}

absl::Status AlertManager::Clear(const std::string& vehicle_id, cit::v1::AlertKind kind,
                                 const std::string& subject, SysTime event_time,
                                 const std::string& details) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(Key{vehicle_id, kind, subject});
    if (it == open_.end()) return absl::OkStatus();
    cit::v1::Alert& alert = alerts_[it->second];
    if (alert.has_condition_cleared_time()) return absl::OkStatus();
    cit::v1::Alert before = alert;
    *alert.mutable_condition_cleared_time() = ToProto(event_time);
    if (!details.empty()) alert.set_details(absl::StrCat(alert.details(), "; ", details));
    absl::Status s = EmitLocked(alert, cit::v1::ALERT_EVENT_TYPE_CLEARED);
    if (!s.ok()) {
      alert = std::move(before);
      return s;
    }
  }
  Notify();
  return absl::OkStatus();
}

namespace {

void AddAction(cit::v1::Alert& alert, cit::v1::AlertState state, const std::string& actor,
               const std::string& comment, SysTime now) {
  alert.set_state(state);
  cit::v1::AlertAction* a = alert.add_actions();
  a->set_state(state);
  a->set_actor(actor);
  a->set_comment(comment);
  *a->mutable_time() = ToProto(now);
}

}  // namespace

absl::StatusOr<cit::v1::Alert> AlertManager::Acknowledge(uint64_t alert_id,
                                                         const std::string& actor,
                                                         const std::string& comment) {
  cit::v1::Alert result;
  uint64_t event_id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = alerts_.find(alert_id);
    if (it == alerts_.end()) return absl::NotFoundError(absl::StrCat("alert ", alert_id));
    cit::v1::Alert& alert = it->second;
    if (alert.state() == cit::v1::ALERT_STATE_RESOLVED) {
      return absl::FailedPreconditionError(absl::StrCat("alert ", alert_id, " is resolved"));
    }
    if (alert.state() == cit::v1::ALERT_STATE_ACKNOWLEDGED) return alert;  // idempotent
    cit::v1::Alert before = alert;
    AddAction(alert, cit::v1::ALERT_STATE_ACKNOWLEDGED, actor, comment, clock_->Now());
    absl::Status s = EmitLocked(alert, cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED, actor, comment);
    if (!s.ok()) {
      alert = std::move(before);
      return s;
    }
    result = alert;
    event_id = last_event_id_;
  }
  Notify();
  if (absl::Status s = WaitStoredThrough(event_id, kOperatorActionStoreTimeout); !s.ok()) return s;
  return result;
}

absl::StatusOr<cit::v1::Alert> AlertManager::Resolve(uint64_t alert_id, const std::string& actor,
                                                     const std::string& comment) {
  cit::v1::Alert result;
  uint64_t event_id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = alerts_.find(alert_id);
    if (it == alerts_.end()) return absl::NotFoundError(absl::StrCat("alert ", alert_id));
    cit::v1::Alert& alert = it->second;
    if (alert.state() == cit::v1::ALERT_STATE_RESOLVED) {
      return absl::FailedPreconditionError(absl::StrCat("alert ", alert_id, " already resolved"));
    }
    if (alert.severity() == cit::v1::SEVERITY_CRITICAL &&
        comment.find_first_not_of(" \t\r\n") == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("comment: required to resolve critical alert ", alert_id,
                       " (say what was done; it is kept with your name)"));
    }
    cit::v1::Alert before = alert;
    AddAction(alert, cit::v1::ALERT_STATE_RESOLVED, actor, comment, clock_->Now());
    absl::Status s = EmitLocked(alert, cit::v1::ALERT_EVENT_TYPE_RESOLVED, actor, comment);
    if (!s.ok()) {
      alert = std::move(before);
      return s;
    }
    open_.erase(Key{alert.vehicle_id(), alert.kind(), alert.subject()});
    result = alert;
    event_id = last_event_id_;
  }
  Notify();
  if (absl::Status s = WaitStoredThrough(event_id, kOperatorActionStoreTimeout); !s.ok()) return s;
  return result;
}

absl::StatusOr<cit::v1::AlertEvent> AlertManager::EscalateByPolicy(uint64_t alert_id, uint32_t step,
                                                                   cit::v1::Severity raise_to,
                                                                   const std::string& comment) {
  cit::v1::AlertEvent event;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = alerts_.find(alert_id);
    if (it == alerts_.end()) return absl::NotFoundError(absl::StrCat("alert ", alert_id));
    cit::v1::Alert& alert = it->second;
    if (alert.state() != cit::v1::ALERT_STATE_OPEN) {
      return absl::FailedPreconditionError(
          absl::StrCat("alert ", alert_id, " is acknowledged or resolved: escalation stops"));
    }
    if (alert.policy_step() >= step) {
      return absl::FailedPreconditionError(
          absl::StrCat("alert ", alert_id, " is already at escalation step ", alert.policy_step()));
    }
    cit::v1::Alert before = alert;
    alert.set_policy_step(step);
    alert.set_severity(std::max(alert.severity(), raise_to));
    absl::Status s = EmitLocked(alert, cit::v1::ALERT_EVENT_TYPE_ESCALATED, "escalation", comment);
    if (!s.ok()) {
      alert = std::move(before);
      return s;
    }
    event = events_.back().event;
  }
  Notify();
  return event;
}

absl::StatusOr<cit::v1::Alert> AlertManager::Get(uint64_t alert_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = alerts_.find(alert_id);
  if (it == alerts_.end()) return absl::NotFoundError(absl::StrCat("alert ", alert_id));
  return it->second;
}

std::vector<cit::v1::Alert> AlertManager::List(const AlertFilter& filter) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<cit::v1::Alert> out;
  for (const auto& [id, alert] : alerts_) {
    if (filter.Matches(alert)) out.push_back(alert);
  }
  return out;
}

size_t AlertManager::OpenCount(const std::string& vehicle_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.lower_bound(Key{vehicle_id, 0, ""});
  size_t n = 0;
  for (; it != open_.end() && std::get<0>(it->first) == vehicle_id; ++it) ++n;
  return n;
}

std::array<uint32_t, cit::v1::Severity_ARRAYSIZE> AlertManager::OpenCountBySeverity(
    const std::string& vehicle_id) const {
  std::array<uint32_t, cit::v1::Severity_ARRAYSIZE> counts{};
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = open_.lower_bound(Key{vehicle_id, 0, ""});
       it != open_.end() && std::get<0>(it->first) == vehicle_id; ++it) {
    auto alert = alerts_.find(it->second);
    if (alert == alerts_.end()) continue;
    const int severity = alert->second.severity();
    if (severity >= 0 && severity < cit::v1::Severity_ARRAYSIZE) ++counts[severity];
  }
  return counts;
}

absl::StatusOr<uint64_t> AlertManager::ReadEvents(
    uint64_t cursor, const AlertFilter& filter, size_t max, std::vector<cit::v1::AlertEvent>* out,
    std::vector<std::optional<WatchCursor>>* cursors) const {
  const uint64_t after = cursor;
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t dropped_through = dropped_through_;
  if (after < dropped_through && store_ != nullptr) {
    // Resume from further back than memory holds: the rare path that reads the store, without
    // the mutex (the monitor raises alerts meanwhile). Everything older than memory is stored.
    // Positions there are event ids (exact while one instance writes the database). The next
    // call continues from the returned cursor and reaches memory eventually.
    lock.unlock();
    absl::StatusOr<std::vector<cit::v1::AlertEvent>> older = store_->EventsAfter(after, max);
    if (!older.ok()) return older.status();
    for (cit::v1::AlertEvent& e : *older) {
      if (e.event_id() > dropped_through) break;  // memory has it (and anything newer)
      cursor = e.event_id();
      if (!filter.Matches(e.alert())) continue;
      out->push_back(std::move(e));
      if (cursors != nullptr) cursors->push_back(std::nullopt);
    }
    if (older->size() >= max) return cursor;  // more stored events may follow
    // The store has nothing more below memory (ids may jump there after a restart): go on in
    // memory, unless events were moved out of memory meanwhile (then the next call reads them).
    cursor = std::max(cursor, dropped_through);
    lock.lock();
    if (cursor < dropped_through_) return cursor;
  }
  if (events_.empty() || cursor >= last_position_) return cursor;
  // Positions ascend in memory but may jump (a restart skips a reserved block): binary search.
  auto it =
      std::upper_bound(events_.begin(), events_.end(), cursor,
                       [](uint64_t position, const Published& p) { return position < p.position; });
  size_t taken = 0;
  for (; it != events_.end() && taken < max; ++it) {
    cursor = it->position;
    if (filter.Matches(it->event.alert())) {
      out->push_back(it->event);
      if (cursors != nullptr) {
        cursors->push_back(CursorOfLocked(it->log_through, it->own_covered, it->own_last));
      }
      ++taken;
    }
  }
  return cursor;
}

uint64_t AlertManager::CursorAfterEvent(uint64_t event_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (it->event.event_id() == event_id) return it->position;
  }
  return event_id;
}

absl::StatusOr<std::vector<cit::v1::AlertEvent>> AlertManager::EventsOf(uint64_t alert_id) const {
  std::vector<cit::v1::AlertEvent> unstored;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (alerts_.count(alert_id) == 0) return absl::NotFoundError(absl::StrCat("alert ", alert_id));
    // Memory drops only stored events (under this mutex), so every event of this manager above
    // the stored mark is still here; only that tail is scanned, never the whole memory. Events
    // of other instances are stored (they were read from the store).
    const uint64_t stored_through = store_ != nullptr ? stored_event_id_.load() : 0;
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->followed) continue;
      if (it->event.event_id() <= stored_through) break;
      if (it->event.alert().alert_id() == alert_id) unstored.push_back(it->event);
    }
    std::reverse(unstored.begin(), unstored.end());
  }
  std::vector<cit::v1::AlertEvent> out;
  if (store_ != nullptr) {
    // Read without the mutex (the monitor raises alerts meanwhile); the store may already hold
    // some of the tail copied above.
    const uint64_t ids[] = {alert_id};
    absl::StatusOr<std::vector<cit::v1::AlertEvent>> stored = store_->EventsOfAlerts(ids);
    if (!stored.ok()) return stored.status();
    out = *std::move(stored);
  }
  for (cit::v1::AlertEvent& e : unstored) {
    const bool have = std::any_of(out.begin(), out.end(), [&](const cit::v1::AlertEvent& o) {
      return o.event_id() == e.event_id();
    });
    if (!have) out.push_back(std::move(e));
  }
  return out;
}

std::vector<cit::v1::AlertEvent> AlertManager::OpenSnapshot(const AlertFilter& filter,
                                                            uint64_t* as_of,
                                                            WatchCursor* as_of_cursor) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<cit::v1::AlertEvent> out;
  for (const auto& [key, id] : open_) {
    const cit::v1::Alert& alert = alerts_.at(id);
    if (!filter.Matches(alert)) continue;
    cit::v1::AlertEvent e;
    auto last = last_event_of_.find(id);
    e.set_event_id(last == last_event_of_.end() ? 0 : last->second);
    *e.mutable_alert() = alert;
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.event_id() < b.event_id(); });
  *as_of = last_position_;
  if (as_of_cursor != nullptr) {
    *as_of_cursor = CursorOfLocked(follow_position_, own_followed_through_, own_made_through_);
  }
  return out;
}

absl::StatusOr<AlertManager::ResumePoint> AlertManager::PrepareResume() {
  if (absl::Status s = CatchUp(); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  ResumePoint point;
  point.log_through = follow_position_;
  point.stream_position = last_position_;
  // This manager's events the follower has not read back: newest first, back to the first one
  // it has (own ids ascend with the stream position).
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (it->followed) continue;
    const uint64_t id = it->event.event_id();
    if (!IsOwnEventLocked(id) || id <= own_followed_through_) break;
    point.own_tail.emplace_back(it->event,
                                CursorOfLocked(follow_position_, own_followed_through_, id));
  }
  std::reverse(point.own_tail.begin(), point.own_tail.end());
  return point;
}

absl::StatusOr<uint64_t> AlertManager::ReadLog(
    uint64_t after, uint64_t through, size_t max,
    std::vector<std::pair<cit::v1::AlertEvent, WatchCursor>>* out) {
  if (store_ == nullptr || after >= through) return through;
  absl::StatusOr<std::vector<AlertStore::LoggedEvent>> logged =
      store_->EventsAfterPosition(after, std::min<uint64_t>(max, through - after));
  if (!logged.ok()) return logged.status();
  if (logged->empty()) return through;  // nothing stored up to `through` beyond `after`
  for (AlertStore::LoggedEvent& e : *logged) {
    if (e.position > through) return through;
    after = e.position;
    WatchCursor c;
    c.log_through = e.position;
    out->emplace_back(std::move(e.event), std::move(c));
  }
  return after;
}

uint64_t AlertManager::last_event_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_event_id_;
}

int AlertManager::AddListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  const int handle = next_listener_++;
  listeners_.emplace(handle, std::move(listener));
  return handle;
}

void AlertManager::RemoveListener(int handle) {
  // Taking listeners_mu_ waits for a Notify() in progress, so the listener is never called
  // after this returns.
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(handle);
}

void AlertManager::Notify(uint64_t events) {
  if (events_total_ != nullptr) events_total_->Increment(events);
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (auto& [handle, fn] : listeners_) fn();
}

}  // namespace cit::dispatch
