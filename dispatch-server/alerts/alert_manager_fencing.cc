// AlertManager's handling of events the store fenced (see "Fencing" in alert_manager.h): an
// instance whose vehicle another instance took over must not keep, in memory, an alert the
// store never received.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "dispatch-server/alerts/alert_manager.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {

void AlertManager::SetFencedListener(FencedListener listener) {
  std::lock_guard<std::mutex> lock(fenced_listener_mu_);
  fenced_listener_ = std::move(listener);
}

uint64_t AlertManager::fenced_events() const { return fenced_events_.load(); }

void AlertManager::DropFenced(const std::vector<AlertStore::FencedEvent>& fenced,
                              const std::vector<cit::v1::AlertEvent>& group) {
  std::set<uint64_t> fenced_ids;
  for (const AlertStore::FencedEvent& f : fenced) fenced_ids.insert(f.event_id);
  std::vector<uint64_t> alert_ids;
  for (const cit::v1::AlertEvent& e : group) {
    if (fenced_ids.count(e.event_id()) == 0) continue;
    const auto fenced_event = std::find_if(
        fenced.begin(), fenced.end(), [&](const auto& f) { return f.event_id == e.event_id(); });
    if (fenced_log_.Admit("alert_fenced")) {
      spdlog::warn(
          "event=alert_fenced vehicle={} kind={} alert_id={} event_id={} type={} owner={} "
          "fencing_token={} note=\"another instance owns the vehicle now; not stored\"",
          e.alert().vehicle_id(), cit::v1::AlertKind_Name(e.alert().kind()), e.alert().alert_id(),
          e.event_id(), cit::v1::AlertEventType_Name(e.type()), fenced_event->owner,
          fenced_event->fencing_token);
    }
    alert_ids.push_back(e.alert().alert_id());
  }
  fenced_events_ += fenced.size();
  if (fenced_total_ != nullptr) fenced_total_->Increment(fenced.size());
  std::sort(alert_ids.begin(), alert_ids.end());
  alert_ids.erase(std::unique(alert_ids.begin(), alert_ids.end()), alert_ids.end());

  {
    // A watcher reading on from before them finds them gone; one that read them already keeps
    // what it saw (the file comment of alert_manager.h, docs/operations.md).
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(events_, [&](const Published& p) {
      return !p.followed && fenced_ids.count(p.event.event_id()) != 0;
    });
  }
  // What the store holds of these alerts: another instance's events, or ours from before.
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> stored = store_->EventsOfAlerts(alert_ids);
  if (!stored.ok()) {
    // Memory keeps the fenced state until a restart; the store, which watchers and other
    // instances read, does not have it.
    spdlog::error("event=alert_fence_restore_failed alerts={} error=\"{}\"", alert_ids.size(),
                  stored.status().ToString());
  } else {
    std::map<uint64_t, cit::v1::AlertEvent> latest;  // in log order: the last one wins
    for (cit::v1::AlertEvent& e : *stored) {
      const uint64_t id = e.alert().alert_id();
      latest[id] = std::move(e);
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : alert_ids) {
      auto it = latest.find(id);
      RestoreStoredLocked(
          id, it == latest.end() ? std::nullopt : std::optional<cit::v1::AlertEvent>(it->second));
    }
  }

  std::lock_guard<std::mutex> lock(fenced_listener_mu_);
  if (!fenced_listener_) return;
  std::set<std::string> told;
  for (const AlertStore::FencedEvent& f : fenced) {
    if (told.insert(f.vehicle_id).second) fenced_listener_(f);
  }
}

void AlertManager::RestoreStoredLocked(uint64_t alert_id,
                                       const std::optional<cit::v1::AlertEvent>& stored) {
  {
    // A later event of ours for this alert is still queued: the store decides about it in the
    // next group (a monitor event of the same vehicle is fenced too and restores then).
    std::lock_guard<std::mutex> lock(persist_mu_);
    for (const cit::v1::AlertEvent& e : to_store_) {
      if (e.alert().alert_id() == alert_id) return;
    }
  }
  auto known = alerts_.find(alert_id);
  if (known == alerts_.end()) return;
  const Key key{known->second.vehicle_id(), known->second.kind(), known->second.subject()};
  auto open = open_.find(key);
  const bool open_is_this = open != open_.end() && open->second == alert_id;
  if (!stored) {
    // Never stored: it never existed for anyone but this instance's watchers.
    if (open_is_this) open_.erase(open);
    alerts_.erase(known);
    last_event_of_.erase(alert_id);
    return;
  }
  known->second = stored->alert();
  last_event_of_[alert_id] = stored->event_id();
  if (stored->alert().state() == cit::v1::ALERT_STATE_RESOLVED) {
    if (open_is_this) open_.erase(open);
  } else if (open == open_.end()) {
    open_.emplace(key, alert_id);
  }
}

}  // namespace cit::dispatch
