// Fuzz target: the place of an alert against a run's plan as the server sends it
// (dispatchctl/alert_place.h). The input is a cit.v1.Run in protobuf text format (the committed
// seeds) or binary. dispatchctl must not crash or print nonsense whatever plan it receives: a
// plan geo/ cannot build is refused with a status, and every place of an accepted plan has
// finite, non-negative distances and a progress within the route.
//
// Run: ctest --preset fuzz -R fuzz.alert_place, or build/fuzz/tests/fuzz/fuzz_alert_place.
#include <google/protobuf/text_format.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatchctl/alert_place.h"

namespace {

void Check(const cit::ctl::PlanPlace& p) {
  const bool finite = std::isfinite(p.progress_m) && std::isfinite(p.route_length_m) &&
                      std::isfinite(p.off_route_m) && std::isfinite(p.stop_distance_m);
  if (!finite || p.off_route_m < 0 || p.stop_distance_m < 0 || p.progress_m < 0 ||
      p.progress_m > p.route_length_m * (1 + 1e-6) + 0.01) {  // geo/: centimetres
    __builtin_trap();
  }
  if (cit::ctl::DescribePlace(p).empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  cit::v1::Run run;
  google::protobuf::TextFormat::Parser text;
  text.AllowPartialMessage(true);
  if (!text.ParseFromString(bytes, &run) && !run.ParseFromString(bytes)) return 0;
  // Stop polygons are kept to stop-sized extents (every ring point within 0.1 degree of the
  // exterior's first point): a hole thousands of kilometres from its polygon makes
  // Boost.Geometry's is_valid (inside geo::PolygonFence::Create) overflow a 64-bit integer
  // (UBSan: boost/geometry/arithmetic/determinant.hpp:44). PolygonFence::Create now refuses
  // zones wider than 20 km before that check; this limit stays until a long run without it.
  for (const cit::v1::Stop& s : run.plan().stops()) {
    if (s.polygon().exterior_size() == 0) continue;
    const cit::v1::Position& o = s.polygon().exterior(0);
    const auto far = [&](const cit::v1::Position& p) {
      return !(std::fabs(p.lat_deg() - o.lat_deg()) <= 0.1 &&
               std::fabs(p.lon_deg() - o.lon_deg()) <= 0.1);
    };
    for (const auto& p : s.polygon().exterior()) {
      if (far(p)) return 0;
    }
    for (const auto& h : s.polygon().holes()) {
      for (const auto& p : h.points()) {
        if (far(p)) return 0;
      }
    }
  }

  // Where alerts may be: on each route vertex and stop centre, and between consecutive ones.
  std::vector<cit::v1::Position> at;
  for (const auto& p : run.plan().route().points()) at.push_back(p);
  for (const auto& s : run.plan().stops()) at.push_back(s.position());
  for (size_t i = 1; i < at.size() && at.size() < 64; ++i) {
    cit::v1::Position mid;
    mid.set_lat_deg((at[i - 1].lat_deg() + at[i].lat_deg()) / 2 + 0.001);
    mid.set_lon_deg((at[i - 1].lon_deg() + at[i].lon_deg()) / 2);
    at.push_back(mid);
  }
  if (at.size() > 64) at.resize(64);

  absl::StatusOr<cit::ctl::RunGeometry> geometry = cit::ctl::RunGeometry::FromPlan(run.plan());
  if (geometry.ok()) {
    for (const cit::v1::Position& p : at) {
      absl::StatusOr<cit::geo::LonLat> ll = cit::geo::LonLat::Create(
          cit::geo::Longitude{p.lon_deg()}, cit::geo::Latitude{p.lat_deg()});
      if (ll.ok()) Check(geometry->Locate(*ll));
    }
  } else if (geometry.status().message().empty()) {
    __builtin_trap();  // a refusal must say why
  }

  // The same plan through the finder, as `watch` uses it: any alert, never a crash.
  cit::ctl::PlaceFinder finder([&](const std::string&, uint32_t) { return run; });
  for (const cit::v1::Position& p : at) {
    cit::v1::Alert alert;
    alert.set_run_id("RUN-FUZZ");
    alert.set_plan_version(run.version());
    *alert.mutable_position() = p;
    (void)finder.Describe(alert);
  }
  return 0;
}
