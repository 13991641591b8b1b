// Who owns each vehicle among several instances on one PostgreSQL database (issue 15 §3): the
// owner and fencing token of every vehicle_seq row an instance has taken over
// (PostgresStore::TakeOwnership). The monitor follows it (server/ownership_follower.h): an
// instance stops evaluating a vehicle another instance took over. Also each instance's liveness:
// a heartbeat row per instance (instance_heartbeat, migration 3 of the records schema) stamped
// with the database's clock, so the hosts' clocks do not matter; an owner whose beat is older
// than the expiry is dead and its vehicles are adopted by a survivor.
//
//   absl::StatusOr<std::unique_ptr<VehicleOwnerReader>> r = VehicleOwnerReader::Open(conninfo);
//   (*r)->Beat("a");                                             // "a" is alive now
//   absl::StatusOr<std::vector<VehicleOwner>> owners = (*r)->Read(std::chrono::seconds(10));
//
// Thread contract: thread-safe (one connection, serialised).
#ifndef CIT_DISPATCH_STORE_VEHICLE_OWNERS_H_
#define CIT_DISPATCH_STORE_VEHICLE_OWNERS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cit::dispatch {

namespace pg {
class Session;
}  // namespace pg

struct VehicleOwner {
  std::string vehicle_id;
  std::string owner;           // the instance's [store] instance name
  uint64_t fencing_token = 0;  // grows with each takeover of the vehicle
  // The owner's last heartbeat is within the expiry (database clock). An owner without a
  // heartbeat row (a version before instance liveness) counts as dead.
  bool owner_alive = true;
};

class VehicleOwnerReader {
 public:
  static absl::StatusOr<std::unique_ptr<VehicleOwnerReader>> Open(const std::string& conninfo);
  ~VehicleOwnerReader();
  VehicleOwnerReader(const VehicleOwnerReader&) = delete;
  VehicleOwnerReader& operator=(const VehicleOwnerReader&) = delete;

  // Every vehicle some instance owns (vehicles written only by a single unnamed instance are
  // not listed), sorted by vehicle id; owner_alive: the owner beat within `expiry`.
  absl::StatusOr<std::vector<VehicleOwner>> Read(std::chrono::milliseconds expiry);
  // Stamps `instance`'s heartbeat row with the database's now().
  absl::Status Beat(const std::string& instance);

 private:
  explicit VehicleOwnerReader(std::unique_ptr<pg::Session> session);
  std::unique_ptr<pg::Session> session_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_VEHICLE_OWNERS_H_
