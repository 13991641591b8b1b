// Which of a group of alert events the vehicle ownership fences on PostgreSQL (issue 15 §3): a
// monitor-made event (IsFenceable) for a vehicle another named instance owns now (vehicle_seq
// owner, the row the ingest's fencing token lives in) is not stored. The records are fenced at
// commit by their token (PostgresStore); an alert is fenced by its vehicle's owner, read under
// the alert-log writer lock, so an instance paused past a takeover stores no time-driven alert
// (COMMS_LOST, DWELL_EXCEEDED...) for a vehicle it lost.
//
//   AlertChainHead head = LockChainHead(w);
//   std::vector<AlertStore::FencedEvent> fenced = FencedEvents(w, "a", events);
//
// A vehicle without a row, or whose row no named instance took (owner ""), fences nothing: one
// instance alone, or a vehicle nobody took over yet.
//
// Thread contract: none of its own (the caller's transaction).
#ifndef CIT_DISPATCH_STORE_POSTGRES_ALERT_FENCE_H_
#define CIT_DISPATCH_STORE_POSTGRES_ALERT_FENCE_H_

#include <pqxx/pqxx>
#include <span>
#include <string>
#include <vector>

#include "dispatch-server/alerts/alert_store.h"

namespace cit::dispatch {

// The events of `events` (in order) whose vehicle another instance than `instance` owns;
// empty when `instance` is empty (an unnamed instance is alone on the database).
std::vector<AlertStore::FencedEvent> FencedEvents(pqxx::work& w, const std::string& instance,
                                                  std::span<const cit::v1::AlertEvent> events);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_ALERT_FENCE_H_
