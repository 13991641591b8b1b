// LocalProjection (exact PROJ transverse Mercator) and GridProjection (its fast approximation).
#include "geo/local_projection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "geo/grid_projection.h"
#include "tests/geo/geodesy_for_tests.h"

namespace cit::geo {
namespace {

using testing::Direct;
using testing::Inverse;
using testing::Ll;

double Dist(XY a, XY b) { return std::hypot(a.x_m - b.x_m, a.y_m - b.y_m); }

TEST(LocalProjectionTest, OriginMapsToZeroAndInverseRoundTripsWithinMillimetre) {
  absl::StatusOr<LocalProjection> p = LocalProjection::CentredAt(Ll(11.57, 48.14));
  ASSERT_TRUE(p.ok()) << p.status();
  const XY o = p->Forward(Ll(11.57, 48.14));
  EXPECT_NEAR(o.x_m, 0.0, 1e-6);
  EXPECT_NEAR(o.y_m, 0.0, 1e-6);
  for (const LonLat q : {Ll(11.9, 48.3), Ll(11.0, 47.5), Ll(12.5, 49.0)}) {
    EXPECT_NEAR(Inverse(p->Inverse(p->Forward(q)), q), 0.0, 1e-3);
  }
}

TEST(LocalProjectionTest, PlaneDistanceOverScaleFactorMatchesGeodesic) {
  absl::StatusOr<LocalProjection> p = LocalProjection::CentredAt(Ll(11.57, 48.14));
  ASSERT_TRUE(p.ok());
  for (double east_km : {0.0, 25.0, 100.0, 300.0}) {
    const LonLat a = Direct(Ll(11.57, 48.14), 90, east_km * 1000);
    const LonLat b = Direct(a, 10, 2000);
    const XY pa = p->Forward(a), pb = p->Forward(b);
    const double plane = Dist(pa, pb) / p->ScaleFactorAt((pa.x_m + pb.x_m) / 2);
    EXPECT_NEAR(plane, 2000.0, 0.05) << east_km << " km east of the meridian";
  }
}

TEST(LocalProjectionTest, ForAreaCentresOnTheBoundingBox) {
  const std::vector<LonLat> area{Ll(10.0, 50.0), Ll(12.0, 51.0), Ll(11.0, 52.0)};
  absl::StatusOr<LocalProjection> p = LocalProjection::ForArea(area);
  ASSERT_TRUE(p.ok());
  EXPECT_NEAR(p->origin().lon_deg(), 11.0, 1e-9);
  EXPECT_NEAR(p->origin().lat_deg(), 51.0, 1e-9);
}

TEST(LocalProjectionTest, ForAreaAcrossAntimeridianCentresNear180AndKeepsBothSidesClose) {
  const std::vector<LonLat> area{Ll(179.8, -16.8), Ll(-179.9, -16.9)};
  absl::StatusOr<LocalProjection> p = LocalProjection::ForArea(area);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_NEAR(std::abs(p->origin().lon_deg()), 179.95, 1e-9);
  const XY west = p->Forward(Ll(179.999, -16.85)), east = p->Forward(Ll(-179.999, -16.85));
  EXPECT_NEAR(Dist(west, east), Inverse(Ll(179.999, -16.85), Ll(-179.999, -16.85)), 0.01);
  EXPECT_LT(west.x_m, east.x_m) << "east of 180 must stay east in the plane";
  const LonLat back = p->Inverse(east);
  EXPECT_NEAR(back.lon_deg(), -179.999, 1e-9);
}

TEST(LocalProjectionTest, ForAreaStraddlingUtmZoneBoundaryIsOneContinuousPlane) {
  // 6 E and 12 E are zone boundaries (31/32, 32/33); a route from 5.5 E to 12.5 E gets one plane.
  const std::vector<LonLat> area{Ll(5.5, 50.0), Ll(12.5, 50.2)};
  absl::StatusOr<LocalProjection> p = LocalProjection::ForArea(area);
  ASSERT_TRUE(p.ok());
  for (double lon : {5.99, 6.0, 6.01, 11.99, 12.0, 12.01}) {
    const LonLat a = Ll(lon, 50.1), b = Direct(a, 60, 1000);
    const XY pa = p->Forward(a), pb = p->Forward(b);
    EXPECT_NEAR(Dist(pa, pb) / p->ScaleFactorAt((pa.x_m + pb.x_m) / 2), 1000.0, 0.01) << lon;
  }
}

TEST(LocalProjectionTest, RejectsEmptyPolarAndTooWideAreasWithReasons) {
  EXPECT_EQ(LocalProjection::ForArea({}).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<LonLat> polar{Ll(0, 80), Ll(1, 85)};
  EXPECT_NE(std::string(LocalProjection::ForArea(polar).status().message()).find("polar"),
            std::string::npos);
  const std::vector<LonLat> wide{Ll(-30, 0), Ll(10, 0)};
  const std::string why(LocalProjection::ForArea(wide).status().message());
  EXPECT_NE(why.find("4453 km east-west"), std::string::npos) << why;
}

TEST(LocalProjectionTest, MovedInstanceOwnsTheContextAndKeepsWorking) {
  absl::StatusOr<LocalProjection> p = LocalProjection::CentredAt(Ll(2.35, 48.85));
  ASSERT_TRUE(p.ok());
  const XY before = p->Forward(Ll(2.4, 48.9));
  LocalProjection moved = *std::move(p);
  LocalProjection assigned = *LocalProjection::CentredAt(Ll(0, 0));
  assigned = std::move(moved);
  EXPECT_EQ(assigned.Forward(Ll(2.4, 48.9)), before);
}

TEST(LocalProjectionTest, OneInstancePerThreadProjectsIndependently) {
  std::vector<std::thread> threads;
  std::vector<double> x(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &x] {
      LocalProjection p = *LocalProjection::CentredAt(Ll(10.0 + t, 45.0));
      for (int i = 0; i < 2000; ++i) x[t] = p.Forward(Ll(10.5 + t, 45.0)).x_m;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(x[t], x[0], 1e-6);
}

class GridProjectionAccuracyTest : public ::testing::TestWithParam<double> {};

TEST_P(GridProjectionAccuracyTest, BilinearGridStaysWithinOneCentimetreOfProj) {
  const double lat = GetParam();
  const std::vector<LonLat> area{Ll(20.0, lat), Direct(Ll(20.0, lat), 45, 60'000)};
  absl::StatusOr<GridProjection> g = GridProjection::ForArea(area, 5000);
  ASSERT_TRUE(g.ok()) << g.status();
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> azi(0, 360), dist(0, 25'000);
  const LonLat middle = Direct(area[0], 45, 30'000);
  double worst = 0;
  for (int i = 0; i < 3000; ++i) {
    const LonLat q = Direct(middle, azi(rng), dist(rng));
    ASSERT_TRUE(g->Covers(q));
    worst = std::max(worst, Dist(g->Forward(q), g->ForwardExact(q)));
    const LonLat back = g->Inverse(g->Forward(q), area[0]);
    ASSERT_NEAR(Inverse(back, q), 0.0, 1e-3);
  }
  // Expected bound: 5 mm * tan(lat) for 500 m cells.
  EXPECT_LT(worst, 0.006 * std::max(1.0, std::tan(std::abs(lat) * M_PI / 180)) + 1e-3)
      << "worst " << worst;
  RecordProperty("worst_error_um", static_cast<int>(worst * 1e6));
}

INSTANTIATE_TEST_SUITE_P(Latitudes, GridProjectionAccuracyTest,
                         ::testing::Values(0.0, 32.3, 48.1, 60.0, -55.0, 70.0));

TEST(GridProjectionTest, PointsOutsideTheGridTakeTheExactPath) {
  const std::vector<LonLat> area{Ll(11.5, 48.1), Ll(11.6, 48.2)};
  absl::StatusOr<GridProjection> g = GridProjection::ForArea(area, 1000);
  ASSERT_TRUE(g.ok());
  const LonLat far = Ll(13.0, 48.1);
  EXPECT_FALSE(g->Covers(far));
  EXPECT_EQ(g->Forward(far), g->ForwardExact(far));
  EXPECT_NEAR(Inverse(g->Inverse(g->Forward(far)), far), 0.0, 1e-3);
}

}  // namespace
}  // namespace cit::geo
