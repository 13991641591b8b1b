#include "dispatch-server/alerts/alert_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {

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

AlertManager::AlertManager(AlertStore* store, const Clock* clock, size_t memory_events)
    : store_(store), clock_(clock), memory_events_(std::max<size_t>(1, memory_events)) {}

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
    last_alert_id_ = std::max(last_alert_id_, a.alert_id());
    if (a.state() != cit::v1::ALERT_STATE_RESOLVED) {
      open_[Key{a.vehicle_id(), a.kind(), a.subject()}] = a.alert_id();
    }
    const uint64_t id = a.alert_id();
    alerts_[id] = std::move(a);
  }
  for (cit::v1::AlertEvent& e : snap->recent_events) {
    last_event_of_[e.alert().alert_id()] = e.event_id();
    events_.push_back(std::move(e));
  }
  last_event_id_ = snap->last_event_id;
  return absl::OkStatus();
}

absl::Status AlertManager::EmitLocked(cit::v1::Alert& alert) {
  alert.set_revision(alert.revision() + 1);
  cit::v1::AlertEvent event;
  event.set_event_id(last_event_id_ + 1);
  *event.mutable_alert() = alert;
  if (store_ != nullptr) {
    absl::Status s = store_->Append(event);
    if (!s.ok()) {
      alert.set_revision(alert.revision() - 1);
      return s;
    }
  }
  ++last_event_id_;
  last_event_of_[alert.alert_id()] = last_event_id_;
  events_.push_back(std::move(event));
  if (events_.size() > memory_events_) events_.pop_front();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> AlertManager::Raise(const Owner& owner, const AlertSignal& signal,
                                             double delay_s) {
  const SysTime now = clock_->Now();
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Key key{owner.vehicle_id, signal.kind, signal.subject};
    auto it = open_.find(key);
    if (it == open_.end()) {
      cit::v1::Alert alert;
      alert.set_alert_id(last_alert_id_ + 1);
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
      alert.set_record_seq(signal.record_seq);
      absl::Status s = EmitLocked(alert);
      if (!s.ok()) return s;
      ++last_alert_id_;
      id = alert.alert_id();
      open_.emplace(std::move(key), id);
      alerts_.emplace(id, std::move(alert));
    } else {
      id = it->second;
      cit::v1::Alert& alert = alerts_[id];
      cit::v1::Alert before = alert;
      if (alert.has_condition_cleared_time()) {
        // The condition came back before anyone resolved the alert: same alert, once more.
        alert.clear_condition_cleared_time();
        alert.set_occurrences(alert.occurrences() + 1);
      }
      alert.set_severity(std::max(alert.severity(), signal.severity));
      if (!signal.details.empty()) alert.set_details(signal.details);
      if (signal.position) {
        alert.mutable_position()->set_lat_deg(signal.position->lat_deg);
        alert.mutable_position()->set_lon_deg(signal.position->lon_deg);
      }
      if (alert.run_id().empty()) alert.set_run_id(owner.run_id);
      absl::Status s = EmitLocked(alert);
      if (!s.ok()) {
        alert = std::move(before);
        return s;
      }
    }
  }
  Notify();
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
    absl::Status s = EmitLocked(alert);
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
    absl::Status s = EmitLocked(alert);
    if (!s.ok()) {
      alert = std::move(before);
      return s;
    }
    result = alert;
  }
  Notify();
  return result;
}

absl::StatusOr<cit::v1::Alert> AlertManager::Resolve(uint64_t alert_id, const std::string& actor,
                                                     const std::string& comment) {
  cit::v1::Alert result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = alerts_.find(alert_id);
    if (it == alerts_.end()) return absl::NotFoundError(absl::StrCat("alert ", alert_id));
    cit::v1::Alert& alert = it->second;
    if (alert.state() == cit::v1::ALERT_STATE_RESOLVED) {
      return absl::FailedPreconditionError(absl::StrCat("alert ", alert_id, " already resolved"));
    }
    cit::v1::Alert before = alert;
    AddAction(alert, cit::v1::ALERT_STATE_RESOLVED, actor, comment, clock_->Now());
    absl::Status s = EmitLocked(alert);
    if (!s.ok()) {
      alert = std::move(before);
      return s;
    }
    open_.erase(Key{alert.vehicle_id(), alert.kind(), alert.subject()});
    result = alert;
  }
  Notify();
  return result;
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

absl::StatusOr<uint64_t> AlertManager::ReadEvents(uint64_t after_event_id,
                                                  const AlertFilter& filter, size_t max,
                                                  std::vector<cit::v1::AlertEvent>* out) const {
  uint64_t cursor = after_event_id;
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t first_in_memory =
      events_.empty() ? last_event_id_ + 1 : events_.front().event_id();
  if (after_event_id + 1 < first_in_memory && store_ != nullptr) {
    // Resume from further back than memory holds: the rare path that reads the store. The next
    // call continues from the returned cursor and reaches memory eventually.
    absl::StatusOr<std::vector<cit::v1::AlertEvent>> older =
        store_->EventsAfter(after_event_id, max);
    if (!older.ok()) return older.status();
    for (cit::v1::AlertEvent& e : *older) {
      cursor = e.event_id();
      if (filter.Matches(e.alert())) out->push_back(std::move(e));
    }
    return cursor;
  }
  if (events_.empty() || cursor >= last_event_id_) return cursor;
  // Event ids are dense in memory: index directly.
  size_t index =
      cursor + 1 > first_in_memory ? static_cast<size_t>(cursor + 1 - first_in_memory) : 0;
  size_t taken = 0;
  for (; index < events_.size() && taken < max; ++index) {
    const cit::v1::AlertEvent& e = events_[index];
    cursor = e.event_id();
    if (filter.Matches(e.alert())) {
      out->push_back(e);
      ++taken;
    }
  }
  return cursor;
}

std::vector<cit::v1::AlertEvent> AlertManager::OpenSnapshot(const AlertFilter& filter,
                                                            uint64_t* as_of) const {
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
  *as_of = last_event_id_;
  return out;
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

void AlertManager::Notify() {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (auto& [handle, fn] : listeners_) fn();
}

}  // namespace cit::dispatch
