// Corridor: distance to the centre-line, nearest segment and progress along the route.
#include "geo/corridor.h"

#include <geodesic.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace cit::geo {
namespace {

const geod_geodesic& Wgs84() {
  static const geod_geodesic g = [] {
    geod_geodesic out;
    geod_init(&out, 6378137.0, 1.0 / 298.257223563);
    return out;
  }();
  return g;
}

LonLat Ll(double lon, double lat) { return *LonLat::Create(lon, lat); }

// Point at `distance_m` from `from` on azimuth `azi_deg` (geodesic).
LonLat Direct(LonLat from, double azi_deg, double distance_m) {
  double lat = 0, lon = 0;
  geod_direct(&Wgs84(), from.lat_deg(), from.lon_deg(), azi_deg, distance_m, &lat, &lon, nullptr);
  if (lon > 180) lon -= 360;
  if (lon < -180) lon += 360;
  return Ll(lon, lat);
}

double Geodesic(LonLat a, LonLat b, double* azi1 = nullptr) {
  double s12 = 0, a1 = 0;
  geod_inverse(&Wgs84(), a.lat_deg(), a.lon_deg(), b.lat_deg(), b.lon_deg(), &s12, &a1, nullptr);
  if (azi1) *azi1 = a1;
  return s12;
}

TEST(CorridorTest, StraightRouteGivesPerpendicularDistanceAndProgress) {
  const LonLat a = Ll(8.50, 47.37);
  const LonLat b = Direct(a, 90.0, 5000.0);
  absl::StatusOr<Corridor> c = Corridor::Create({a, b});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->length_m(), 5000.0, 1e-6);
  const LonLat mid = c->PointAt(2000.0);
  double azi = 0;
  Geodesic(a, mid, &azi);
  const LonLat off = Direct(mid, azi - 90.0, 120.0);
  Corridor::Match m = c->Locate(off);
  EXPECT_NEAR(m.distance_m, 120.0, 0.05);
  EXPECT_NEAR(m.progress_m, 2000.0, 0.5);
  EXPECT_EQ(m.segment_index, 0u);
  EXPECT_NEAR(Geodesic(m.nearest, mid), 0.0, 0.5);
}

TEST(CorridorTest, RejectsRouteWithFewerThanTwoDistinctPoints) {
  EXPECT_FALSE(Corridor::Create({}).ok());
  EXPECT_FALSE(Corridor::Create({Ll(1, 1)}).ok());
  absl::StatusOr<Corridor> c = Corridor::Create({Ll(1, 1), Ll(1, 1), Ll(1, 1)});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cit::geo
