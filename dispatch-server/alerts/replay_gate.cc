#include "dispatch-server/alerts/replay_gate.h"

#include <unordered_map>

namespace cit::dispatch {

ReplayGate ReplayGate::FromStoredEvents(std::span<const cit::v1::AlertEvent> events,
                                        uint64_t accounted_through) {
  ReplayGate gate;
  // The previous stored state of each alert: an event is told apart by what changed.
  std::unordered_map<uint64_t, const cit::v1::Alert*> previous;
  for (const cit::v1::AlertEvent& e : events) {
    const cit::v1::Alert& a = e.alert();
    auto it = previous.find(a.alert_id());
    const cit::v1::Alert* before = it == previous.end() ? nullptr : it->second;
    previous[a.alert_id()] = &a;
    Stored what = Stored::kRaise;  // opened, escalated, occurred again
    if (before != nullptr) {
      if (a.actions_size() > before->actions_size()) continue;  // operator action
      if (a.has_condition_cleared_time() && !before->has_condition_cleared_time()) {
        what = Stored::kClear;
      }
    }
    if (e.event_id() <= accounted_through) continue;
    gate.stored_[Key{a.kind(), a.subject()}].push_back(what);
  }
  return gate;
}

bool ReplayGate::AdmitUnmatched(SysTime now) {
  switch (phase_) {
    case Phase::kMute:
      return false;
    case Phase::kReplay:
      if (now < tail_from_) {
        ++counts_.diverged;
        return false;
      }
      ++counts_.admitted;
      return true;
    case Phase::kLive:
      ++counts_.admitted;
      return true;
  }
  return true;
}

bool ReplayGate::AdmitRaise(const AlertSignal& signal, SysTime now) {
  if (phase_ == Phase::kMute) return false;
  auto it = stored_.find(Key{signal.kind, signal.subject});
  if (it != stored_.end()) {
    std::deque<Stored>& q = it->second;
    // A stored clear the replay did not make first: skip it (the stored state already has it).
    while (!q.empty() && q.front() == Stored::kClear) {
      q.pop_front();
      ++counts_.unmatched;
    }
    if (!q.empty()) {
      q.pop_front();
      ++counts_.matched;
      return false;
    }
  }
  return AdmitUnmatched(now);
}

bool ReplayGate::AdmitClear(cit::v1::AlertKind kind, const std::string& subject, SysTime now) {
  if (phase_ == Phase::kMute) return false;
  auto it = stored_.find(Key{kind, subject});
  if (it != stored_.end() && !it->second.empty()) {
    std::deque<Stored>& q = it->second;
    if (q.front() == Stored::kClear) {
      q.pop_front();
      ++counts_.matched;
    }
    // Otherwise the clear changed nothing before the restart (no open alert, or already
    // cleared) and the stored raise that follows must stay matched to the next raise.
    return false;
  }
  // Nothing stored: before the tail the clear was a no-op then (or its event is stored under
  // an alert of an earlier run); in the tail and live the AlertManager decides (Clear is a no-op
  // unless an alert is open and not cleared).
  if (phase_ == Phase::kReplay && now < tail_from_) return false;
  return true;
}

size_t ReplayGate::pending() const {
  size_t n = 0;
  for (const auto& [key, q] : stored_) n += q.size();
  return n;
}

}  // namespace cit::dispatch
