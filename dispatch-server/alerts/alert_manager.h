// The alert lifecycle (DESIGN §6): one open alert per (vehicle, kind, subject), updated rather
// than repeated; open -> acknowledged -> resolved with operator identity and comment; every
// change is an AlertEvent with a strictly increasing event id, persisted before it is visible,
// so WatchAlerts can resume after any event id without gaps or repeats.
//
//   AlertManager alerts(&store, &clock);
//   CIT_RETURN_IF_ERROR(alerts.Load());
//   alerts.Raise({"truck-7", "run-1"}, signal, /*delay_s=*/0);          // monitor thread
//   alerts.Acknowledge(id, "alice", "calling the crew");                 // API threads
//   uint64_t cursor = alerts.ReadEvents(after, filter, 100, &events);    // watchers
//
// "Open" in this file means "not resolved" (open or acknowledged): a condition that clears and
// returns before an operator resolved the alert updates the same alert (occurrences + 1).
//
// Thread contract: all methods are thread-safe (one mutex; the store is written under it, so
// event ids are persisted in order). Listeners are called after the mutex is released, from the
// thread that made the change; they must not block.
#ifndef CIT_DISPATCH_SERVER_ALERTS_ALERT_MANAGER_H_
#define CIT_DISPATCH_SERVER_ALERTS_ALERT_MANAGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/alerts/alert_signal.h"
#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/monitor/clock.h"

namespace cit::dispatch {

// Which alerts a watcher or a list wants.
struct AlertFilter {
  cit::v1::Severity min_severity = cit::v1::SEVERITY_UNSPECIFIED;
  std::vector<std::string> vehicle_ids;     // empty = all
  std::string run_id;                       // empty = all
  std::vector<cit::v1::AlertState> states;  // empty = all
  bool Matches(const cit::v1::Alert& alert) const;
};

class AlertManager {
 public:
  struct Owner {
    std::string vehicle_id;
    std::string run_id;
  };

  // `store` may be null (memory only, for tests and benchmarks). Both must outlive this.
  AlertManager(AlertStore* store, const Clock* clock, size_t memory_events = 200'000);
  AlertManager(const AlertManager&) = delete;
  AlertManager& operator=(const AlertManager&) = delete;

  // Reads the stored alerts and recent events; call once before use.
  absl::Status Load();

  // Opens or updates the alert for (owner.vehicle_id, signal.kind, signal.subject). `delay_s`
  // > 0 marks it delayed (raised from backfilled records). Returns the alert id.
  absl::StatusOr<uint64_t> Raise(const Owner& owner, const AlertSignal& signal, double delay_s);
  // Records that the condition ceased; no-op when no alert is open for the key or it is already
  // cleared.
  absl::Status Clear(const std::string& vehicle_id, cit::v1::AlertKind kind,
                     const std::string& subject, SysTime event_time, const std::string& details);

  absl::StatusOr<cit::v1::Alert> Acknowledge(uint64_t alert_id, const std::string& actor,
                                             const std::string& comment);
  absl::StatusOr<cit::v1::Alert> Resolve(uint64_t alert_id, const std::string& actor,
                                         const std::string& comment);

  absl::StatusOr<cit::v1::Alert> Get(uint64_t alert_id) const;
  std::vector<cit::v1::Alert> List(const AlertFilter& filter) const;
  // Alerts not yet resolved, per vehicle.
  size_t OpenCount(const std::string& vehicle_id) const;

  // Appends to `out` up to `max` events with event_id > after_event_id that match `filter`,
  // ascending. Returns the new cursor: the id of the last event examined (matching or not), so
  // a filtered watcher never rescans. Older events than memory holds are read from the store.
  absl::StatusOr<uint64_t> ReadEvents(uint64_t after_event_id, const AlertFilter& filter,
                                      size_t max, std::vector<cit::v1::AlertEvent>* out) const;
  // Current state of every unresolved alert matching `filter`, each as an event carrying the
  // alert's latest event id; *as_of is the last event id at snapshot time (resume from there).
  std::vector<cit::v1::AlertEvent> OpenSnapshot(const AlertFilter& filter, uint64_t* as_of) const;
  uint64_t last_event_id() const;

  // Called (without the mutex) after each new event; returns a handle for RemoveListener.
  int AddListener(std::function<void()> listener);
  void RemoveListener(int handle);

 private:
  using Key = std::tuple<std::string, int, std::string>;  // vehicle, kind, subject
  // Appends an event for the alert's current state (mutex held); persists it.
  absl::Status EmitLocked(cit::v1::Alert& alert);
  void Notify();

  AlertStore* store_;
  const Clock* clock_;
  size_t memory_events_;

  mutable std::mutex mu_;
  std::map<uint64_t, cit::v1::Alert> alerts_;
  std::map<Key, uint64_t> open_;                // unresolved alert per key
  std::map<uint64_t, uint64_t> last_event_of_;  // alert id -> its latest event id
  std::deque<cit::v1::AlertEvent> events_;      // newest memory_events_ events
  uint64_t last_alert_id_ = 0;
  uint64_t last_event_id_ = 0;

  std::mutex listeners_mu_;
  std::map<int, std::function<void()>> listeners_;
  int next_listener_ = 1;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_ALERT_MANAGER_H_
