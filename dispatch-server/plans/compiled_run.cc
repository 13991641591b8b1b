#include "dispatch-server/plans/compiled_run.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "geo/route_import.h"

namespace cit::dispatch {
namespace {

absl::StatusOr<geo::LonLat> ToLonLat(const cit::v1::Position& p, const std::string& field) {
  absl::StatusOr<geo::LonLat> ll =
      geo::LonLat::Create(geo::Longitude{p.lon_deg()}, geo::Latitude{p.lat_deg()});
  if (!ll.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", ll.status().message()));
  return ll;
}

absl::Status Prefixed(const std::string& field, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
}

bool HasTime(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

}  // namespace

absl::StatusOr<std::vector<geo::LonLat>> RoutePoints(const cit::v1::Route& route) {
  if (!route.geojson().empty()) {
    auto pts = geo::ImportGeoJsonRoute(route.geojson(), "route.geojson");
    if (!pts.ok()) return absl::InvalidArgumentError(pts.status().message());
    return pts;
  }
  if (!route.gpx().empty()) {
    auto pts = geo::ImportGpxRoute(route.gpx(), "route.gpx");
    if (!pts.ok()) return absl::InvalidArgumentError(pts.status().message());
    return pts;
  }
  if (!route.encoded_polyline().empty()) {
    const int precision = route.encoded_polyline_precision() == 0
                              ? 5
                              : static_cast<int>(route.encoded_polyline_precision());
    auto pts = geo::DecodePolyline(route.encoded_polyline(), precision);
    if (!pts.ok()) return Prefixed("route.encoded_polyline", pts.status());
    return pts;
  }
  std::vector<geo::LonLat> out;
  out.reserve(route.points_size());
  for (int i = 0; i < route.points_size(); ++i) {
    auto ll = ToLonLat(route.points(i), absl::StrCat("route.points[", i, "]"));
    if (!ll.ok()) return ll.status();
    out.push_back(*ll);
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const CompiledRun>> CompileRun(const cit::v1::Run& run) {
  const cit::v1::RunPlan& plan = run.plan();
  auto c = std::make_shared<CompiledRun>();
  c->run = run;
  c->run_id = plan.run_id();
  c->vehicle_id = plan.vehicle_id();
  c->version = run.version();
  c->limits = ResolveLimits(plan.limits());
  c->crew_badges.assign(plan.crew_badges().begin(), plan.crew_badges().end());
  if (plan.route().corridor_half_width_m() > 0) {
    c->half_width_m = plan.route().corridor_half_width_m();
  }
  absl::StatusOr<std::vector<geo::LonLat>> points = RoutePoints(plan.route());
  if (!points.ok()) return points.status();
  absl::StatusOr<geo::Corridor> corridor = geo::Corridor::Create(std::move(*points));
  if (!corridor.ok()) return Prefixed("route", corridor.status());
  c->corridor.emplace(std::move(*corridor));

  for (int i = 0; i < plan.stops_size(); ++i) {
    const cit::v1::Stop& s = plan.stops(i);
    const std::string f = absl::StrCat("stops[", i, "]");
    CompiledStop stop;
    stop.stop_id = s.stop_id();
    stop.name = s.name();
    if (s.polygon().exterior_size() > 0) {
      std::vector<geo::LonLat> ring;
      double lon = 0, lat = 0;
      for (int j = 0; j < s.polygon().exterior_size(); ++j) {
        auto ll = ToLonLat(s.polygon().exterior(j), absl::StrCat(f, ".polygon.exterior[", j, "]"));
        if (!ll.ok()) return ll.status();
        ring.push_back(*ll);
        lon += ll->lon_deg();
        lat += ll->lat_deg();
      }
      std::vector<std::vector<geo::LonLat>> holes;
      for (int h = 0; h < s.polygon().holes_size(); ++h) {
        std::vector<geo::LonLat> hole;
        for (int j = 0; j < s.polygon().holes(h).points_size(); ++j) {
          auto ll = ToLonLat(s.polygon().holes(h).points(j),
                             absl::StrCat(f, ".polygon.holes[", h, "].points[", j, "]"));
          if (!ll.ok()) return ll.status();
          hole.push_back(*ll);
        }
        holes.push_back(std::move(hole));
      }
      auto centre =
          geo::LonLat::Create(geo::Longitude{lon / ring.size()}, geo::Latitude{lat / ring.size()});
      if (!centre.ok()) return Prefixed(f + ".polygon", centre.status());
      stop.centre = *centre;
      // Reach: farthest vertex from the centre, measured with a throwaway circle's metric.
      auto probe = geo::CircleFence::Create(stop.centre, 1.0);
      if (!probe.ok()) return Prefixed(f + ".polygon", probe.status());
      for (const geo::LonLat& v : ring) {
        stop.reach_m = std::max(stop.reach_m, probe->DistanceFromCentre_m(v));
      }
      auto poly = geo::PolygonFence::Create(std::move(ring), std::move(holes));
      if (!poly.ok()) return Prefixed(f + ".polygon", poly.status());
      stop.polygon = std::make_shared<const geo::PolygonFence>(std::move(*poly));
    } else {
      auto centre = ToLonLat(s.position(), f + ".position");
      if (!centre.ok()) return centre.status();
      stop.centre = *centre;
      auto circle = geo::CircleFence::Create(stop.centre, s.radius_m());
      if (!circle.ok()) return Prefixed(f + ".radius_m", circle.status());
      stop.circle.emplace(*circle);
      stop.reach_m = s.radius_m();
    }
    const geo::Corridor::Match m = c->corridor->Locate(stop.centre);
    stop.progress_m = m.progress_m;
    stop.offset_m = m.distance_m;
    if (HasTime(s.arrival_earliest())) stop.earliest = FromProto(s.arrival_earliest());
    if (HasTime(s.arrival_latest())) stop.latest = FromProto(s.arrival_latest());
    stop.max_dwell_s = s.max_dwell_s();
    stop.doors_may_open = s.doors_may_open();
    stop.seal_may_break = s.seal_may_break();
    stop.crew_check_in_required = s.crew_check_in_required();
    c->max_reach_m_ = std::max(c->max_reach_m_, stop.reach_m + stop.offset_m);
    c->stops.push_back(std::move(stop));
  }
  c->by_progress_.resize(c->stops.size());
  for (size_t i = 0; i < c->stops.size(); ++i) c->by_progress_[i] = static_cast<int>(i);
  std::sort(c->by_progress_.begin(), c->by_progress_.end(),
            [&](int a, int b) { return c->stops[a].progress_m < c->stops[b].progress_m; });
  return std::shared_ptr<const CompiledRun>(std::move(c));
}

int CompiledRun::StopContaining(geo::LonLat p, double progress_m, double distance_m) const {
  if (stops.empty()) return -1;
  if (distance_m > max_reach_m_) return -1;  // farther from the route than any zone reaches
  // A point inside a zone is within reach_m of its centre, and the centre is offset_m from
  // the route, so its own progress differs from the stop's by at most reach + offset + its
  // distance to the route (triangle inequality along the route's nearest points, generous).
  const double window = max_reach_m_ + distance_m;
  auto lo = std::lower_bound(by_progress_.begin(), by_progress_.end(), progress_m - window,
                             [&](int i, double v) { return stops[i].progress_m < v; });
  for (auto it = lo; it != by_progress_.end() && stops[*it].progress_m <= progress_m + window;
       ++it) {
    if (stops[*it].Contains(p)) return *it;
  }
  return -1;
}

}  // namespace cit::dispatch
