// Persistence interface of the alert manager: every alert change is one AlertEvent, stored
// with the alert's new state in one transaction. SqliteAlertStore
// (dispatch-server/store/sqlite_alert_store.h) implements it in the server's database.
//
// Thread contract: implementations are called by AlertManager under its mutex (one caller at a
// time) and must be usable from any thread.
#ifndef CIT_DISPATCH_SERVER_ALERTS_ALERT_STORE_H_
#define CIT_DISPATCH_SERVER_ALERTS_ALERT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

class AlertStore {
 public:
  struct Snapshot {
    // Every stored alert, latest state, ascending id.
    std::vector<cit::v1::Alert> alerts;
    // The newest events (at most the number asked for), ascending event id.
    std::vector<cit::v1::AlertEvent> recent_events;
    uint64_t last_event_id = 0;
  };

  virtual ~AlertStore() = default;
  // Stores event.alert as the alert's current state and appends the event.
  virtual absl::Status Append(const cit::v1::AlertEvent& event) = 0;
  virtual absl::StatusOr<Snapshot> Load(size_t recent_events) = 0;
  // Events with event_id > after_event_id, ascending, at most `limit`.
  virtual absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsAfter(uint64_t after_event_id,
                                                                       size_t limit) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_ALERT_STORE_H_
