// Where an alert happened, in the terms of its run's plan (issue 14 §3): the nearest planned
// stop and how far it is, and how far along the route the truck was. The plan comes from the
// server (GetRun; GetRunHistory for an alert raised under an earlier plan version) once per run
// and version, and is measured with geo/: the route's Corridor for progress and distance from
// the centre-line, the stops' CircleFence / PolygonFence for the distance to each stop zone.
//
//   PlaceFinder places(FetchRunOverGrpc(conn));
//   std::string note = places.Describe(alert);
//   // "470 m from S1 Depot Zurich, 0.4 of 2.0 km along the route, 330 m off route"
//   // "at S2 Branch Bahnhofstrasse, 1.0 of 2.0 km along the route"
//   // "" (no run, no position, or the plan could not be read: callers show lat/lon alone)
//
// Thread contract: RunGeometry is immutable after FromPlan (Locate is safe from many threads);
// PlaceFinder is not thread-safe (one per thread; its cache belongs to it).
#ifndef CIT_DISPATCHCTL_ALERT_PLACE_H_
#define CIT_DISPATCHCTL_ALERT_PLACE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "geo/corridor.h"
#include "geo/geofence.h"

namespace cit::ctl {

// Where a point lies against one plan.
struct PlanPlace {
  std::string stop_id;  // the nearest stop zone ("" when the plan has no stops)
  std::string stop_name;
  double stop_distance_m = 0;  // from the zone's edge; 0 inside
  bool in_stop = false;
  double progress_m = 0;      // along the route to the nearest centre-line point
  double route_length_m = 0;  // the whole route
  double off_route_m = 0;     // from the centre-line
  double half_width_m = 0;    // the corridor's half-width (default 150 m when the plan has none)
};

// A plan's route and stop zones, ready to measure points against.
class RunGeometry {
 public:
  // Refuses a plan whose route or stops geo/ cannot build (fewer than 2 route points, a bad
  // coordinate, an invalid polygon): the message names the part.
  static absl::StatusOr<RunGeometry> FromPlan(const cit::v1::RunPlan& plan);

  PlanPlace Locate(geo::LonLat p) const;

 private:
  struct Zone {
    std::string id;
    std::string name;
    std::optional<geo::CircleFence> circle;
    std::shared_ptr<const geo::PolygonFence> polygon;  // when the stop has a polygon
  };
  RunGeometry(geo::Corridor corridor, std::vector<Zone> zones, double half_width_m)
      : corridor_(std::make_shared<geo::Corridor>(std::move(corridor))),
        zones_(std::move(zones)),
        half_width_m_(half_width_m) {}

  std::shared_ptr<const geo::Corridor> corridor_;
  std::vector<Zone> zones_;
  double half_width_m_;
};

// "8 m", "470 m", "1.2 km".
std::string DistanceText(double metres);
// "470 m from S1 Depot Zurich, 0.4 of 2.0 km along the route, 330 m off route"; "at S2 ..."
// inside a stop zone; the off-route part only beyond the corridor's half-width.
std::string DescribePlace(const PlanPlace& place);

class PlaceFinder {
 public:
  // Reads run `run_id` as of plan `version` (0: the current version).
  using RunFetcher =
      std::function<absl::StatusOr<cit::v1::Run>(const std::string& run_id, uint32_t version)>;
  // Called once per run and version that could not be read or measured, with why.
  using ErrorSink = std::function<void(const std::string& message)>;

  explicit PlaceFinder(RunFetcher fetch, ErrorSink on_error = nullptr)
      : fetch_(std::move(fetch)), on_error_(std::move(on_error)) {}

  // The alert's place against the plan version it was raised under (its plan_version; the
  // current plan when 0); "" without a run, a position, or a readable plan.
  std::string Describe(const cit::v1::Alert& alert);

  // Plans fetched so far (for tests: one fetch per run and version).
  int fetches() const { return fetches_; }

  // At most this many runs are kept; beyond, the cache starts again (a watch over a long
  // shift sees many runs, each alert needs only its own).
  static constexpr std::size_t kMaxRuns = 256;

 private:
  const RunGeometry* GeometryFor(const std::string& run_id, uint32_t version);

  RunFetcher fetch_;
  ErrorSink on_error_;
  // nullptr: the run could not be read or measured (not asked again).
  std::map<std::pair<std::string, uint32_t>, std::unique_ptr<RunGeometry>> cache_;
  int fetches_ = 0;
};

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_ALERT_PLACE_H_
