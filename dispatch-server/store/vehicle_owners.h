// Who owns each vehicle among several instances on one PostgreSQL database (issue 15 §3): the
// owner and fencing token of every vehicle_seq row an instance has taken over
// (PostgresStore::TakeOwnership). The monitor follows it (server/ownership_follower.h): an
// instance stops evaluating a vehicle another instance took over.
//
//   absl::StatusOr<std::unique_ptr<VehicleOwnerReader>> r = VehicleOwnerReader::Open(conninfo);
//   absl::StatusOr<std::vector<VehicleOwner>> owners = (*r)->Read();
//
// Thread contract: thread-safe (one connection, serialised).
#ifndef CIT_DISPATCH_STORE_VEHICLE_OWNERS_H_
#define CIT_DISPATCH_STORE_VEHICLE_OWNERS_H_

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
};

class VehicleOwnerReader {
 public:
  static absl::StatusOr<std::unique_ptr<VehicleOwnerReader>> Open(const std::string& conninfo);
  ~VehicleOwnerReader();
  VehicleOwnerReader(const VehicleOwnerReader&) = delete;
  VehicleOwnerReader& operator=(const VehicleOwnerReader&) = delete;

  // Every vehicle some instance owns (vehicles written only by a single unnamed instance are
  // not listed), sorted by vehicle id.
  absl::StatusOr<std::vector<VehicleOwner>> Read();

 private:
  explicit VehicleOwnerReader(std::unique_ptr<pg::Session> session);
  std::unique_ptr<pg::Session> session_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_VEHICLE_OWNERS_H_
