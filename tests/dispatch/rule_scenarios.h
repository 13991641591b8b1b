// The real-drive scenarios of issue 13's rule fixes as data (a plan and its fixes, times in
// seconds from the first fix), so that the same scenario runs through the live server
// (rule_correctness_scenario_test) and through `plan check` (plan_check_scenario_test).
//
//   rule_scenarios::Scenario s = rule_scenarios::KubickaCrossing("CIT-1");
//   // s.plan: the run plan; s.fixes: lon, lat, t_s
//
// Kubicka scenarios need ../shared/data: guard the test with CIT_SKIP_WITHOUT_KUBICKA first.
// Thread contract: pure functions.
#ifndef CIT_TESTS_DISPATCH_RULE_SCENARIOS_H_
#define CIT_TESTS_DISPATCH_RULE_SCENARIOS_H_

#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "geo/corridor.h"
#include "tests/support/real_drives.h"

namespace cit::dispatch::rule_scenarios {

using cit::test::TracePoint;

struct Scenario {
  cit::v1::RunPlan plan;
  std::vector<TracePoint> fixes;
  // Scenario-specific marks (see each builder).
  double mark_s = 0;
};

inline cit::v1::Position PositionOf(double lon_deg, double lat_deg) {
  cit::v1::Position out;
  out.set_lon_deg(lon_deg);
  out.set_lat_deg(lat_deg);
  return out;
}
inline cit::v1::Position PositionOf(const TracePoint& p) {
  return PositionOf(p.lon_deg, p.lat_deg);
}

inline cit::v1::Stop StopAt(const std::string& id, const cit::v1::Position& p, double radius_m) {
  cit::v1::Stop s;
  s.set_stop_id(id);
  *s.mutable_position() = p;
  s.set_radius_m(radius_m);
  return s;
}

// Munich, driven against a route that runs the other way: the truck's first fix is 350 m past
// its depot along the route; it drives to the depot (against the route, which is right: it is
// reaching its first stop from the far side), loads for a minute, then drives the route.
// Before issue 13: the depot was MISSED_STOP at the first fix and WRONG_DIRECTION followed.
inline Scenario MunichFirstFixPastTheDepot(const std::string& vehicle) {
  const std::vector<TracePoint> track = cit::test::MunichTrack();
  constexpr size_t kDepot = 520;  // the drive's position 520 s in: moving, no freeze near
  size_t first = kDepot;
  double along_m = 0;
  while (first > 0 && along_m < 350) {
    along_m += cit::test::DistanceM(track[first - 1], track[first]);
    --first;
  }
  Scenario s;
  s.plan.set_run_id("R-first-fix");
  s.plan.set_vehicle_id(vehicle);
  for (long i = kDepot + 60; i >= 0; i -= 10) {
    *s.plan.mutable_route()->add_points() = PositionOf(track[i]);
  }
  s.plan.mutable_route()->set_corridor_half_width_m(40);
  *s.plan.add_stops() = StopAt("DEPOT", PositionOf(track[kDepot]), 50);
  *s.plan.add_stops() = StopAt("S1", PositionOf(track[first - 120]), 40);
  *s.plan.add_stops() = StopAt("S2", PositionOf(track[first - 240]), 40);
  // The drive from `first` to the depot, a minute standing there, then the drive backwards in
  // its positions (forward along this route) with time running on.
  double t = 0;
  for (size_t i = first; i <= kDepot; ++i)
    s.fixes.push_back({track[i].lon_deg, track[i].lat_deg, t++});
  for (int i = 0; i < 60; ++i)
    s.fixes.push_back({track[kDepot].lon_deg, track[kDepot].lat_deg, t++});
  for (size_t i = kDepot; i-- > first - 300;) {
    s.fixes.push_back({track[i].lon_deg, track[i].lat_deg, t++});
  }
  s.mark_s = static_cast<double>(first);  // where the drive starts in the Munich track
  return s;
}

// Kubicka 00000016 against the route of 00000010 with a stop every 800 m: the track leaves the
// route at 5.5 km, takes other roads, crosses the route 10.16 km along it at 1162-1179 s (18
// fixes on the corridor, moving across it, not along it), loops off it again and joins it at
// 10.04 km at ~1232 s, then drives along it to the end. Before issue 13: every stop between
// 5.5 km and 10 km was MISSED_STOP at 1162 s, from the crossing.
inline Scenario KubickaCrossing(const std::string& vehicle) {
  Scenario s;
  s.fixes = cit::test::KubickaTrack("00000016");
  const std::vector<cit::test::LatLon> route = cit::test::KubickaRoute("00000010");
  std::vector<geo::LonLat> pts;
  for (const auto& p : route)
    pts.push_back(*geo::LonLat::Create(geo::Longitude{p.lon_deg}, geo::Latitude{p.lat_deg}));
  const absl::StatusOr<geo::Corridor> corridor = geo::Corridor::Create(pts);
  s.plan.set_run_id("R-crossing");
  s.plan.set_vehicle_id(vehicle);
  for (const auto& p : route) {
    *s.plan.mutable_route()->add_points() = PositionOf(p.lon_deg, p.lat_deg);
  }
  s.plan.mutable_route()->set_corridor_half_width_m(38);
  if (!corridor.ok()) return s;
  for (double at = 0; at < corridor->length_m() - 100; at += 800) {
    const geo::LonLat p = corridor->PointAt(at);
    *s.plan.add_stops() = StopAt("P" + std::to_string(static_cast<int>(at)),
                                 PositionOf(p.lon_deg(), p.lat_deg()), 30);
  }
  return s;
}

// Kubicka 00000016 against the route of 00000010 (SOURCES.md): three excursions, up to 453 m,
// 723 m and 130 m off; stops where the trace stands still (its depot).
inline Scenario KubickaExcursions(const std::string& vehicle) {
  Scenario s;
  s.fixes = cit::test::KubickaTrack("00000016");
  s.plan.set_run_id("R-" + vehicle);
  s.plan.set_vehicle_id(vehicle);
  for (const cit::test::Standstill& stand : cit::test::Standstills(s.fixes, 30, 120)) {
    *s.plan.add_stops() =
        StopAt("W" + std::to_string(s.plan.stops_size() + 1), PositionOf(s.fixes[stand.first]), 60);
  }
  for (const auto& p : cit::test::KubickaRoute("00000010")) {
    *s.plan.mutable_route()->add_points() = PositionOf(p.lon_deg, p.lat_deg);
  }
  s.plan.mutable_route()->set_corridor_half_width_m(38);
  return s;
}

// Munich x0001-001 on its own route (every 10th fix, 40 m): the position freezes for 33 s at
// 15 m/s, then jumps 470 m (a tunnel); other freezes (up to 67 s) are the receiver pinning the
// car at traffic lights after braking. mark_s: when the tunnel freeze began (0: not found).
inline Scenario MunichTunnel(const std::string& vehicle) {
  Scenario s;
  s.fixes = cit::test::MunichTrack();
  const std::vector<TracePoint>& track = s.fixes;
  for (size_t i = 1; i + 30 < track.size(); ++i) {
    const bool repeats =
        track[i].lon_deg == track[i + 30].lon_deg && track[i].lat_deg == track[i + 30].lat_deg;
    if (repeats && cit::test::DistanceM(track[i - 1], track[i]) > 10) s.mark_s = track[i].t_s;
  }
  s.plan.set_run_id("R-" + vehicle);
  s.plan.set_vehicle_id(vehicle);
  for (const cit::test::Standstill& stand : cit::test::Standstills(track, 30, 120)) {
    *s.plan.add_stops() =
        StopAt("W" + std::to_string(s.plan.stops_size() + 1), PositionOf(track[stand.first]), 60);
  }
  for (size_t i = 0; i < track.size(); i += 10) {
    *s.plan.mutable_route()->add_points() = PositionOf(track[i]);
  }
  s.plan.mutable_route()->set_corridor_half_width_m(40);
  return s;
}

}  // namespace cit::dispatch::rule_scenarios

#endif  // CIT_TESTS_DISPATCH_RULE_SCENARIOS_H_
