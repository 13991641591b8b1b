// A run plan turned into what the monitor evaluates fixes against: the route as a
// geo::Corridor, each stop's zone as a geofence with its position along the route, windows as
// times, and the limits resolved to numbers. Built once per plan version, shared read-only.
//
//   absl::StatusOr<std::shared_ptr<const CompiledRun>> c = CompileRun(run);
//   geo::Corridor::Match m = (*c)->corridor.Locate(fix, last_progress_m);
//   int stop = (*c)->StopContaining(fix, m.progress_m, m.distance_m);
//
// Thread contract: immutable after CompileRun; share through shared_ptr<const CompiledRun>.
#ifndef CIT_DISPATCH_SERVER_PLANS_COMPILED_RUN_H_
#define CIT_DISPATCH_SERVER_PLANS_COMPILED_RUN_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/plans/run_limits.h"
#include "geo/corridor.h"
#include "geo/geofence.h"
#include "geo/lon_lat.h"

namespace cit::dispatch {

inline constexpr double kDefaultHalfWidthM = 150.0;

struct CompiledStop {
  std::string stop_id;
  std::string name;
  // Zone: polygon when the plan gave one, else the circle.
  std::optional<geo::CircleFence> circle;
  std::shared_ptr<const geo::PolygonFence> polygon;
  geo::LonLat centre =
      *geo::LonLat::Create(geo::Longitude{0}, geo::Latitude{0});  // set by CompileRun
  // Radius of a circle that holds the whole zone, metres (the circle's radius, or the polygon's
  // farthest vertex from its centre).
  double reach_m = 0;
  // Where the stop's centre projects onto the route, and how far from the route it is.
  double progress_m = 0;
  double offset_m = 0;
  std::optional<SysTime> earliest;
  std::optional<SysTime> latest;
  double max_dwell_s = 0;  // 0 = no limit
  bool doors_may_open = false;
  bool seal_may_break = false;
  bool crew_check_in_required = false;

  bool Contains(geo::LonLat p) const {
    return polygon ? polygon->Contains(p) : circle->Contains(p);
  }
};

struct CompiledRun {
  cit::v1::Run run;  // the version this was compiled from
  std::string run_id;
  std::string vehicle_id;
  uint32_t version = 0;
  std::optional<geo::Corridor> corridor;
  double half_width_m = kDefaultHalfWidthM;
  std::vector<CompiledStop> stops;  // plan order
  RunLimits limits;
  std::vector<std::string> crew_badges;

  // Index of a stop whose zone holds `p`, or -1. `progress_m`/`distance_m` come from the
  // corridor match of `p`: only stops whose zone can reach that far along the route are tested
  // (most fixes test none), unless the fix is farther off the route than any stop.
  int StopContaining(geo::LonLat p, double progress_m, double distance_m) const;

 private:
  friend absl::StatusOr<std::shared_ptr<const CompiledRun>> CompileRun(const cit::v1::Run&);
  std::vector<int> by_progress_;  // stop indexes ordered by progress_m
  double max_reach_m_ = 0;        // largest reach_m + offset_m of any stop
};

// Validates nothing beyond what compiling needs (call ValidateRunPlan first); route import
// errors come back as "route.<source>: <problem>".
absl::StatusOr<std::shared_ptr<const CompiledRun>> CompileRun(const cit::v1::Run& run);

// The route's vertices from whichever source the plan used.
absl::StatusOr<std::vector<geo::LonLat>> RoutePoints(const cit::v1::Route& route);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_COMPILED_RUN_H_
