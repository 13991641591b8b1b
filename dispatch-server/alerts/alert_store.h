// Persistence interface of the alert manager: every alert change is one AlertEvent, stored
// with the alert's new state; the manager writes events in groups, one transaction per group.
// Ids are handed out from durably reserved blocks (ReserveIds) so that ids an operator may have
// seen are never reused after a crash, and so that several managers on one database (several
// dispatch-server instances on PostgreSQL) never hand out the same id: each block is taken from
// the database atomically, above every block taken before. SqliteAlertStore
// (dispatch-server/store/sqlite_alert_store.h) implements it in the server's database.
//
// Thread contract: implementations must be thread-safe (AlertManager calls them from its
// persister thread, from API threads when a watcher resumes from old events, and under its
// mutex when reserving ids).
#ifndef CIT_DISPATCH_SERVER_ALERTS_ALERT_STORE_H_
#define CIT_DISPATCH_SERVER_ALERTS_ALERT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// The actor of the events the monitor makes (raised, updated, reoccurred, cleared): the only
// events fenced by vehicle ownership (AlertStore::Append); operators' and the escalation
// policy's are not.
inline constexpr char kMonitorActor[] = "system";

// Whether an event's storing depends on this instance owning its vehicle: made by the monitor,
// for a vehicle.
inline bool IsFenceable(const cit::v1::AlertEvent& event) {
  return event.actor() == kMonitorActor && !event.alert().vehicle_id().empty();
}

class AlertStore {
 public:
  struct Snapshot {
    // Every stored alert, latest state, ascending id.
    std::vector<cit::v1::Alert> alerts;
    // The newest events (at most the number asked for), in log order (ascending position).
    std::vector<cit::v1::AlertEvent> recent_events;
    // Highest stored event id.
    uint64_t last_event_id = 0;
    // Log position of the newest stored event (0: none): the snapshot holds every event up to
    // it and none after (EventsAfterPosition continues from here).
    uint64_t log_position = 0;
    // Highest ids ever reserved (0: none). Ids above the stored ones up to these may have been
    // shown before a crash; the manager continues above them.
    uint64_t reserved_alert_id = 0;
    uint64_t reserved_event_id = 0;
  };

  // Ids reserved by one ReserveIds call: alert ids [alert_first, alert_last] and event ids
  // [event_first, event_last]; a range asked with count 0 is empty (first = last + 1).
  struct IdBlocks {
    uint64_t alert_first = 1;
    uint64_t alert_last = 0;
    uint64_t event_first = 1;
    uint64_t event_last = 0;
  };

  // An event with its position in the alert-event log: its chain position, assigned under the
  // append lock and so in commit order. A reader never sees position n + 1 before n.
  struct LoggedEvent {
    uint64_t position = 0;
    cit::v1::AlertEvent event;
  };

  // An event Append left out: the monitor of this instance made it for a vehicle another
  // instance on the database owns now (issue 15 §3, the fencing of records applied to alerts).
  struct FencedEvent {
    uint64_t event_id = 0;
    std::string vehicle_id;
    std::string owner;           // the instance that owns the vehicle
    uint64_t fencing_token = 0;  // its token, as read
  };

  virtual ~AlertStore() = default;
  // In one transaction, for each event in order: stores event.alert as the alert's current
  // state and appends the event. Fenceable events (IsFenceable) of vehicles another instance
  // owns are left out and, when `fenced` is given, listed there in order; the rest of the group
  // is stored. Only a store shared by named instances fences (PostgreSQL with an instance name).
  virtual absl::Status Append(std::span<const cit::v1::AlertEvent> events,
                              std::vector<FencedEvent>* fenced) = 0;
  absl::Status Append(std::span<const cit::v1::AlertEvent> events) {
    return Append(events, nullptr);
  }
  // Atomically and durably reserves the next `alert_ids` alert ids and `event_ids` event ids:
  // above every id reserved before by any writer of this database and above every stored id.
  // Two stores on one database never get overlapping blocks.
  virtual absl::StatusOr<IdBlocks> ReserveIds(uint64_t alert_ids, uint64_t event_ids) = 0;
  virtual absl::StatusOr<Snapshot> Load(size_t recent_events) = 0;
  // Events with event_id > after_event_id, ascending, at most `limit`.
  virtual absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsAfter(uint64_t after_event_id,
                                                                       size_t limit) = 0;
  // Events at log positions after `after_position`, ascending, at most `limit`: what other
  // instances on the same database stored (AlertManager::StartFollowing).
  virtual absl::StatusOr<std::vector<LoggedEvent>> EventsAfterPosition(uint64_t after_position,
                                                                       size_t limit) = 0;
  // Every stored event of these alerts in log order (ascending event id when one instance wrote
  // them; state rebuild after a restart, an alert's history).
  virtual absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsOfAlerts(
      std::span<const uint64_t> alert_ids) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_ALERT_STORE_H_
