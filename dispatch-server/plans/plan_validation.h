// Validation of a submitted RunPlan (DESIGN §5, §9 "input validation at the edge").
//
// Every problem is found, and the first 20 are reported, one "field: problem" line each, in the
// INVALID_ARGUMENT message (with how many more there are), so a dispatcher fixes a plan in one
// round trip:
//
//   absl::Status s = ValidateRunPlan(plan);
//   // INVALID_ARGUMENT: "stops[2].radius_m: must be > 0\nroute.points[7].lat_deg: ..."
//
// Route sources other than `points` (GeoJSON, GPX, encoded polyline) are parsed when the plan is
// compiled (CompileRun); their parse errors are reported under the same "field: problem" form.
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_PLANS_PLAN_VALIDATION_H_
#define CIT_DISPATCH_SERVER_PLANS_PLAN_VALIDATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cit/v1/dispatch.pb.h"
#include "geo/route_import.h"

namespace cit::dispatch {

// Size bounds (DESIGN §9: sizes bounded).
inline constexpr size_t kMaxIdLength = 128;
inline constexpr size_t kMaxRoutePoints = geo::kMaxRoutePoints;  // every route source
inline constexpr size_t kMaxRouteSourceBytes = 8 << 20;
inline constexpr size_t kMaxStops = 500;
inline constexpr size_t kMaxPolygonPoints = 10'000;
inline constexpr size_t kMaxCrew = 16;
inline constexpr double kMaxHalfWidthM = 5'000;
// How far a stop may lie from the route (Route.max_stop_distance_m; stop_placement.h).
inline constexpr double kDefaultMaxStopDistanceM = 1'000;
inline constexpr double kMaxStopDistanceM = 100'000;

// All problems found, "field: problem" each; empty when the plan is valid.
std::vector<std::string> PlanProblems(const cit::v1::RunPlan& plan);

// Stops without arrival_latest (they can never be late or missed), one "field: problem" line
// each naming the stop; a server with `[plans] require_stop_windows = true` refuses the plan
// with them (RunManager::SetRequireStopWindows), dispatchctl warns either way.
std::vector<std::string> StopWindowProblems(const cit::v1::RunPlan& plan);

// A status message travels as gRPC metadata, which clients cap at a few KiB: 100,000 problems
// came back as "metadata size exceeds limit". Messages list this many, then say how many more.
inline constexpr size_t kMaxProblemsShown = 20;

// OK, or INVALID_ARGUMENT with PlanProblems() joined by JoinProblems().
absl::Status ValidateRunPlan(const cit::v1::RunPlan& plan);

// The first kMaxProblemsShown problems (each cut at 200 bytes), one per line, then
// "... and N more problems (...)" when there are more.
std::string JoinProblems(const std::vector<std::string>& problems);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_PLAN_VALIDATION_H_
