// The Dispatch gRPC service (proto/cit/v1/dispatch.proto): run plans and the fleet view.
// Thin: validation, versioning and the state machine live in RunManager; the fleet view is the
// FleetFeed's source (the Monitor's, or on several instances the shared view across them:
// server/shared_fleet.h), so GetFleet and WatchFleet show the same. Errors map 1:1 from
// absl::Status (INVALID_ARGUMENT carries "field: problem" lines).
//
//   DispatchService dispatch(&run_manager, &fleet_feed);
//   builder.AddOperatorService(&dispatch);
//
// Sync API on purpose: plan changes write SQLite, which gRPC callback reactions must not do
// (STYLE.md); the sync thread pool may block briefly. WatchFleet is a callback-API stream fed by
// the FleetFeed (fleet_watch.h).
//
// Thread contract: thread-safe (RunManager and the feed's source are).
#ifndef CIT_DISPATCH_SERVER_API_DISPATCH_SERVICE_H_
#define CIT_DISPATCH_SERVER_API_DISPATCH_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/api/fleet_feed.h"
#include "dispatch-server/plans/run_manager.h"

namespace cit::dispatch {

// ListRuns paging (issue 10, 4.5): summaries by default, 100 runs a page, at most 1,000; a page
// of whole plans (RUN_VIEW_FULL) also ends before 3 MiB, under the clients' 4 MiB limit.
inline constexpr std::size_t kDefaultListRunsPageSize = 100;
inline constexpr std::size_t kMaxListRunsPageSize = 1'000;
inline constexpr std::size_t kMaxListRunsFullPageBytes = 3u << 20;

class DispatchService final
    : public cit::v1::Dispatch::WithCallbackMethod_WatchFleet<cit::v1::Dispatch::Service> {
 public:
  DispatchService(RunManager* runs, FleetFeed* fleet_feed) : runs_(runs), fleet_feed_(fleet_feed) {}

  // Whether the server has stored anything from a vehicle. With it set, CreateRun/UpdateRun
  // refuse (FAILED_PRECONDITION) a plan for a vehicle that has no stored record and no earlier
  // run, unless the request sets allow_unknown_vehicle; without it (tests) any vehicle passes.
  using VehicleKnown = std::function<absl::StatusOr<bool>(const std::string& vehicle_id)>;
  void SetVehicleKnown(VehicleKnown known) { vehicle_known_ = std::move(known); }

  grpc::Status CreateRun(grpc::ServerContext* ctx, const cit::v1::CreateRunRequest* req,
                         cit::v1::Run* resp) override;
  grpc::Status UpdateRun(grpc::ServerContext* ctx, const cit::v1::UpdateRunRequest* req,
                         cit::v1::Run* resp) override;
  grpc::Status DispatchRun(grpc::ServerContext* ctx, const cit::v1::DispatchRunRequest* req,
                           cit::v1::Run* resp) override;
  grpc::Status AbortRun(grpc::ServerContext* ctx, const cit::v1::EndRunRequest* req,
                        cit::v1::Run* resp) override;
  grpc::Status CompleteRun(grpc::ServerContext* ctx, const cit::v1::EndRunRequest* req,
                           cit::v1::Run* resp) override;
  grpc::Status GetRun(grpc::ServerContext* ctx, const cit::v1::GetRunRequest* req,
                      cit::v1::Run* resp) override;
  grpc::Status GetRunHistory(grpc::ServerContext* ctx, const cit::v1::GetRunRequest* req,
                             cit::v1::RunHistory* resp) override;
  grpc::Status ListRuns(grpc::ServerContext* ctx, const cit::v1::ListRunsRequest* req,
                        cit::v1::ListRunsResponse* resp) override;
  grpc::Status GetFleet(grpc::ServerContext* ctx, const cit::v1::GetFleetRequest* req,
                        cit::v1::Fleet* resp) override;
  grpc::ServerWriteReactor<cit::v1::VehicleState>* WatchFleet(
      grpc::CallbackServerContext* ctx, const cit::v1::WatchFleetRequest* req) override;

 private:
  RunManager* runs_;
  FleetFeed* fleet_feed_;
  VehicleKnown vehicle_known_;

  // OK, or FAILED_PRECONDITION naming the vehicle (see SetVehicleKnown).
  absl::Status CheckVehicle(const cit::v1::RunPlan& plan, bool allow_unknown) const;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_API_DISPATCH_SERVICE_H_
