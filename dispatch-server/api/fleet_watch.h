// The WatchFleet server stream: a full snapshot of the (filtered) fleet, then the vehicles the
// FleetFeed reports as changed. Per vehicle only the newest unsent state is kept, so a slow
// client costs at most one state per vehicle, never a growing queue.
//
//   grpc::ServerWriteReactor<cit::v1::VehicleState>* r = NewFleetWatch(&feed, *request);
//
// Thread contract: gRPC callback reactor; OnVehicles from the feed's thread.
#ifndef CIT_DISPATCH_SERVER_API_FLEET_WATCH_H_
#define CIT_DISPATCH_SERVER_API_FLEET_WATCH_H_

#include <grpcpp/grpcpp.h>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/api/fleet_feed.h"

namespace cit::dispatch {

// Owned by gRPC (deletes itself when done).
grpc::ServerWriteReactor<cit::v1::VehicleState>* NewFleetWatch(
    FleetFeed* feed, const cit::v1::WatchFleetRequest& request);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_API_FLEET_WATCH_H_
