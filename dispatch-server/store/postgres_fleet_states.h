// The fleet view shared by several instances on one PostgreSQL database (issue 15 §3): each
// instance publishes the fleet state (cit.v1.VehicleState) of the vehicles it evaluates into one
// mutable row per vehicle (fleet_states, component "fleet_states"), and reads the rows the other
// instances published, so every instance's GetFleet / WatchFleet shows the whole fleet
// (server/shared_fleet.h).
//
//   auto table = PostgresFleetStates::Open(conninfo);                   // migrates
//   absl::StatusOr<size_t> written = (*table)->Publish("a", {{"truck-7", 3, bytes}});
//   auto rows = (*table)->ReadAfter(cursor, 1000);   // ordered by (updated_at_us, vehicle_id)
//
// Fencing: a row is written only while the publishing instance owns the vehicle with the fencing
// token it names (vehicle_seq.owner and lease_token, PostgresStore::TakeOwnership), and never
// over a row of a newer token, so an instance that lost a vehicle cannot overwrite its new
// owner's state, even with a write already under way when the vehicle was taken over.
// updated_at_us is the database's clock (microseconds since the epoch), so the hosts' clocks do
// not matter to the readers' cursors and ages.
//
// Thread contract: thread-safe (one connection behind a mutex, pg::Session).
#ifndef CIT_DISPATCH_STORE_POSTGRES_FLEET_STATES_H_
#define CIT_DISPATCH_STORE_POSTGRES_FLEET_STATES_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

// One vehicle's state as its owner publishes it.
struct FleetStateWrite {
  std::string vehicle_id;
  uint64_t fencing_token = 0;  // the token this instance holds for the vehicle
  std::string state;           // serialised cit.v1.VehicleState
};

// One published row as read.
struct FleetStateRow {
  std::string vehicle_id;
  std::string owner;  // the instance that published it
  uint64_t fencing_token = 0;
  std::string state;          // serialised cit.v1.VehicleState
  int64_t updated_at_us = 0;  // database clock
  double age_s = 0;           // database now minus updated_at when read
};

// Rows after (updated_at_us, vehicle_id), in that order.
struct FleetStateCursor {
  int64_t updated_at_us = 0;
  std::string vehicle_id;
};

class PostgresFleetStates {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresFleetStates>> Open(const std::string& conninfo);

  // Writes the rows this instance may write (one statement; at most kMaxRowsPerPublish rows,
  // INVALID_ARGUMENT beyond). Returns the vehicles written; the others were fenced (another
  // instance owns the vehicle now, or already published under a newer token).
  absl::StatusOr<std::vector<std::string>> Publish(const std::string& instance,
                                                   std::span<const FleetStateWrite> rows);
  // At most `limit` rows after `cursor`, oldest first.
  absl::StatusOr<std::vector<FleetStateRow>> ReadAfter(const FleetStateCursor& cursor,
                                                       size_t limit);

  static constexpr size_t kMaxRowsPerPublish = 1000;

 private:
  explicit PostgresFleetStates(std::unique_ptr<pg::Session> session)
      : session_(std::move(session)) {}

  std::unique_ptr<pg::Session> session_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_FLEET_STATES_H_
