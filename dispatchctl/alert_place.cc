#include "dispatchctl/alert_place.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cit::ctl {
namespace {

// The server's default corridor half-width (proto Route.corridor_half_width_m).
constexpr double kDefaultHalfWidth_m = 150.0;

absl::StatusOr<geo::LonLat> ToLonLat(const cit::v1::Position& p, const std::string& where) {
  absl::StatusOr<geo::LonLat> ll =
      geo::LonLat::Create(geo::Longitude{p.lon_deg()}, geo::Latitude{p.lat_deg()});
  if (!ll.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", ll.status().message()));
  return ll;
}

absl::StatusOr<std::vector<geo::LonLat>> Ring(
    const google::protobuf::RepeatedPtrField<cit::v1::Position>& points, const std::string& where) {
  std::vector<geo::LonLat> out;
  out.reserve(static_cast<size_t>(points.size()));
  for (int i = 0; i < points.size(); ++i) {
    absl::StatusOr<geo::LonLat> p = ToLonLat(points[i], absl::StrCat(where, "[", i, "]"));
    if (!p.ok()) return p.status();
    out.push_back(*p);
  }
  return out;
}

std::string StopLabel(const PlanPlace& p) {
  return p.stop_name.empty() ? p.stop_id : absl::StrCat(p.stop_id, " ", p.stop_name);
}

}  // namespace

absl::StatusOr<RunGeometry> RunGeometry::FromPlan(const cit::v1::RunPlan& plan) {
  absl::StatusOr<std::vector<geo::LonLat>> route = Ring(plan.route().points(), "route.points");
  if (!route.ok()) return route.status();
  absl::StatusOr<geo::Corridor> corridor = geo::Corridor::Create(std::move(*route));
  if (!corridor.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("route: ", corridor.status().message()));
  }
  std::vector<Zone> zones;
  for (int i = 0; i < plan.stops_size(); ++i) {
    const cit::v1::Stop& s = plan.stops(i);
    const std::string where = absl::StrCat("stops[", i, "] (", s.stop_id(), ")");
    Zone z{.id = s.stop_id(), .name = s.name(), .circle = std::nullopt, .polygon = nullptr};
    if (s.polygon().exterior_size() > 0) {  // the polygon wins, as on the server
      absl::StatusOr<std::vector<geo::LonLat>> outer =
          Ring(s.polygon().exterior(), where + ".polygon.exterior");
      if (!outer.ok()) return outer.status();
      std::vector<std::vector<geo::LonLat>> holes;
      for (int h = 0; h < s.polygon().holes_size(); ++h) {
        absl::StatusOr<std::vector<geo::LonLat>> hole =
            Ring(s.polygon().holes(h).points(), absl::StrCat(where, ".polygon.holes[", h, "]"));
        if (!hole.ok()) return hole.status();
        holes.push_back(std::move(*hole));
      }
      absl::StatusOr<geo::PolygonFence> fence =
          geo::PolygonFence::Create(std::move(*outer), std::move(holes));
      if (!fence.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", fence.status().message()));
      }
      z.polygon = std::make_shared<const geo::PolygonFence>(std::move(*fence));
    } else {
      absl::StatusOr<geo::LonLat> centre = ToLonLat(s.position(), where + ".position");
      if (!centre.ok()) return centre.status();
      absl::StatusOr<geo::CircleFence> fence = geo::CircleFence::Create(*centre, s.radius_m());
      if (!fence.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", fence.status().message()));
      }
      z.circle = *fence;
    }
    zones.push_back(std::move(z));
  }
  const double half_width = plan.route().corridor_half_width_m() > 0
                                ? plan.route().corridor_half_width_m()
                                : kDefaultHalfWidth_m;
  return RunGeometry(std::move(*corridor), std::move(zones), half_width);
}

PlanPlace RunGeometry::Locate(geo::LonLat p) const {
  PlanPlace out;
  const geo::Corridor::Match m = corridor_->Locate(p);
  out.progress_m = m.progress_m;
  out.route_length_m = corridor_->length_m();
  out.off_route_m = m.distance_m;
  out.half_width_m = half_width_m_;
  double best = std::numeric_limits<double>::infinity();
  // Ties go to the stop listed first.
  for (const Zone& z : zones_) {
    const double d = z.polygon ? z.polygon->SignedDistance_m(p) : z.circle->SignedDistance_m(p);
    if (d < best) {
      best = d;
      out.stop_id = z.id;
      out.stop_name = z.name;
    }
  }
  if (!zones_.empty()) {
    out.in_stop = best <= 0;
    out.stop_distance_m = std::max(0.0, best);
  }
  return out;
}

std::string DistanceText(double metres) {
  if (metres < 100) return absl::StrCat(static_cast<long>(std::lround(metres)), " m");
  if (metres < 995) return absl::StrCat(10 * std::lround(metres / 10), " m");
  return absl::StrFormat("%.1f km", metres / 1000);
}

std::string DescribePlace(const PlanPlace& p) {
  std::string out;
  if (!p.stop_id.empty()) {
    out = p.in_stop ? absl::StrCat("at ", StopLabel(p))
                    : absl::StrCat(DistanceText(p.stop_distance_m), " from ", StopLabel(p));
    out += ", ";
  }
  // Corridor progress and length agree to centimetres; never say "2.1 of 2.0 km".
  const double progress = std::clamp(p.progress_m, 0.0, p.route_length_m);
  absl::StrAppendFormat(&out, "%.1f of %.1f km along the route", progress / 1000,
                        p.route_length_m / 1000);
  if (p.off_route_m > p.half_width_m) {
    absl::StrAppend(&out, ", ", DistanceText(p.off_route_m), " off route");
  }
  return out;
}

std::string PlaceFinder::Describe(const cit::v1::Alert& alert) {
  if (alert.run_id().empty() || !alert.has_position()) return "";
  const cit::v1::Position& pos = alert.position();
  if (pos.lat_deg() == 0 && pos.lon_deg() == 0) return "";  // no position known
  absl::StatusOr<geo::LonLat> p =
      geo::LonLat::Create(geo::Longitude{pos.lon_deg()}, geo::Latitude{pos.lat_deg()});
  if (!p.ok()) return "";
  const RunGeometry* run = GeometryFor(alert.run_id(), alert.plan_version());
  return run == nullptr ? "" : DescribePlace(run->Locate(*p));
}

const RunGeometry* PlaceFinder::GeometryFor(const std::string& run_id, uint32_t version) {
  const auto key = std::make_pair(run_id, version);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();
  if (cache_.size() >= kMaxRuns) cache_.clear();
  ++fetches_;
  std::unique_ptr<RunGeometry> geometry;
  absl::StatusOr<cit::v1::Run> run = fetch_(run_id, version);
  if (!run.ok()) {
    if (on_error_) {
      on_error_(absl::StrCat("no place for alerts of run ", run_id, ": could not read its plan (",
                             run.status().message(), "); showing latitude/longitude only"));
    }
  } else if (absl::StatusOr<RunGeometry> g = RunGeometry::FromPlan(run->plan()); !g.ok()) {
    if (on_error_) {
      on_error_(absl::StrCat("no place for alerts of run ", run_id,
                             ": its plan cannot be measured (", g.status().message(),
                             "); showing latitude/longitude only"));
    }
  } else {
    geometry = std::make_unique<RunGeometry>(std::move(*g));
  }
  const RunGeometry* out = geometry.get();
  cache_.emplace(key, std::move(geometry));
  return out;
}

}  // namespace cit::ctl
