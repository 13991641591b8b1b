// Circle and polygon geofences: containment, distances, validation.
#include "geo/geofence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/geo/geodesy_for_tests.h"

namespace cit::geo {
namespace {

using testing::Direct;
using testing::Inverse;
using testing::Ll;

TEST(CircleFenceTest, ContainsExactlyThePointsWithinTheRadiusInEveryDirection) {
  const LonLat atm = Ll(34.8585, 32.3290);
  absl::StatusOr<CircleFence> f = CircleFence::Create(atm, 60.0);
  ASSERT_TRUE(f.ok()) << f.status();
  for (double azi = 0; azi < 360; azi += 15) {
    EXPECT_TRUE(f->Contains(Direct(atm, azi, 59.9))) << azi;
    EXPECT_FALSE(f->Contains(Direct(atm, azi, 60.1))) << azi;
  }
}

TEST(CircleFenceTest, SignedDistanceMatchesGeodesicNearAndFar) {
  const LonLat depot = Ll(10.75, 59.91);  // Oslo: high latitude stresses the local plane
  absl::StatusOr<CircleFence> f = CircleFence::Create(depot, 150.0);
  ASSERT_TRUE(f.ok());
  for (double d : {0.0, 10.0, 149.0, 151.0, 2'000.0, 9'900.0, 25'000.0, 400'000.0}) {
    for (double azi : {0.0, 45.0, 100.0, 270.0}) {
      const LonLat p = Direct(depot, azi, d);
      EXPECT_NEAR(f->SignedDistance_m(p), d - 150.0, 0.02 + d * 1e-6) << d << " m at " << azi;
      EXPECT_NEAR(f->DistanceToEdge_m(p), std::abs(d - 150.0), 0.02 + d * 1e-6);
    }
  }
}

TEST(CircleFenceTest, WorksAcrossTheAntimeridian) {
  absl::StatusOr<CircleFence> f = CircleFence::Create(Ll(179.9995, -16.85), 200.0);
  ASSERT_TRUE(f.ok());
  const LonLat east = Ll(-179.9995, -16.85);  // ~107 m east, across 180
  EXPECT_TRUE(f->Contains(east));
  EXPECT_NEAR(f->DistanceFromCentre_m(east), Inverse(f->centre(), east), 0.01);
}

TEST(CircleFenceTest, RejectsZeroNegativeAndNonFiniteRadius) {
  for (double r : {0.0, -5.0, std::nan(""), HUGE_VAL}) {
    absl::StatusOr<CircleFence> f = CircleFence::Create(Ll(0, 0), r);
    ASSERT_FALSE(f.ok()) << r;
    EXPECT_NE(std::string(f.status().message()).find("radius"), std::string::npos);
  }
}

// A 400 m square depot yard with a 100 m square building (hole) in the middle.
std::vector<LonLat> Square(LonLat centre, double half_m, bool clockwise) {
  std::vector<LonLat> ring;
  const double diag = half_m * std::sqrt(2.0);
  for (double azi : {45.0, 135.0, 225.0, 315.0}) ring.push_back(Direct(centre, azi, diag));
  if (!clockwise) std::reverse(ring.begin(), ring.end());
  return ring;
}

TEST(PolygonFenceTest, ContainsTheYardButNotTheBuildingHoleOrOutside) {
  const LonLat c = Ll(11.57, 48.14);
  absl::StatusOr<PolygonFence> f =
      PolygonFence::Create(Square(c, 200, true), {Square(c, 50, false)});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->Contains(c)) << "inside the hole";
  EXPECT_TRUE(f->Contains(Direct(c, 0, 120)));
  EXPECT_TRUE(f->Contains(Direct(c, 90, 190)));
  EXPECT_FALSE(f->Contains(Direct(c, 90, 210)));
  EXPECT_FALSE(f->Contains(Direct(c, 0, 5000)));
  EXPECT_NEAR(f->area_m2(), 400.0 * 400.0 - 100.0 * 100.0, 400.0 * 400.0 * 1e-4);
}

TEST(PolygonFenceTest, DistanceToEdgeIsMeasuredToTheNearestRingIncludingHoles) {
  const LonLat c = Ll(11.57, 48.14);
  absl::StatusOr<PolygonFence> f =
      PolygonFence::Create(Square(c, 200, false), {Square(c, 50, true)});
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->DistanceToEdge_m(Direct(c, 0, 80)), 30.0, 0.05);    // to the building wall
  EXPECT_NEAR(f->DistanceToEdge_m(Direct(c, 90, 170)), 30.0, 0.05);  // to the fence
  EXPECT_NEAR(f->SignedDistance_m(Direct(c, 90, 230)), 30.0, 0.05);  // outside: positive
  EXPECT_NEAR(f->SignedDistance_m(Direct(c, 90, 170)), -30.0, 0.05);
  EXPECT_NEAR(f->DistanceToEdge_m(c), 50.0, 0.05) << "in the hole: 50 m to its walls";
}

TEST(PolygonFenceTest, PointOnAnEdgeOrVertexCountsAsInside) {
  absl::StatusOr<PolygonFence> f =
      PolygonFence::Create({Ll(10.0, 50.0), Ll(10.01, 50.0), Ll(10.01, 50.01), Ll(10.0, 50.01)});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Contains(Ll(10.0, 50.0)));
  EXPECT_TRUE(f->Contains(Ll(10.01, 50.01)));
  EXPECT_TRUE(f->Contains(Ll(10.01, 50.005)));
}

TEST(PolygonFenceTest, AcceptsClosedOrOpenRingsInEitherOrientation) {
  const LonLat c = Ll(-0.12, 51.5);
  std::vector<LonLat> closed = Square(c, 100, false);
  closed.push_back(closed.front());
  for (const auto& ring : {Square(c, 100, true), Square(c, 100, false), closed}) {
    absl::StatusOr<PolygonFence> f = PolygonFence::Create(ring);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_TRUE(f->Contains(c));
    EXPECT_NEAR(f->area_m2(), 40'000.0, 10.0);
  }
}

TEST(PolygonFenceTest, RejectsSelfIntersectingBowTieWithReason) {
  absl::StatusOr<PolygonFence> f =
      PolygonFence::Create({Ll(10.0, 50.0), Ll(10.01, 50.01), Ll(10.01, 50.0), Ll(10.0, 50.01)});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(f.status().message()).find("invalid polygon"), std::string::npos)
      << f.status();
}

TEST(PolygonFenceTest, RejectsRingsWithFewerThanThreeDistinctPoints) {
  absl::StatusOr<PolygonFence> f = PolygonFence::Create({Ll(1, 1), Ll(1, 2), Ll(1, 1)});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(std::string(f.status().message()).find("exterior ring has 2 distinct"),
            std::string::npos)
      << f.status();
  const LonLat c = Ll(11.57, 48.14);
  absl::StatusOr<PolygonFence> g = PolygonFence::Create(Square(c, 200, true), {{c, c}});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(std::string(g.status().message()).find("hole 0"), std::string::npos) << g.status();
}

TEST(PolygonFenceTest, RejectsHoleOutsideTheExterior) {
  const LonLat c = Ll(11.57, 48.14);
  absl::StatusOr<PolygonFence> f =
      PolygonFence::Create(Square(c, 200, true), {Square(Direct(c, 90, 1000), 50, false)});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(std::string(f.status().message()).find("invalid polygon"), std::string::npos);
}

// A stop zone wider than 20 km is a typo; a hole 1,500 km away (within the projection's 3,000 km)
// is one, and such rings made
// Boost.Geometry's validity check overflow (UBSan, fuzz.alert_place) before this refusal.
TEST(PolygonFenceTest, RefusesAZoneWiderThan20KmAndSaysWhy) {
  const LonLat c = Ll(11.57, 48.14);
  absl::StatusOr<PolygonFence> far_hole =
      PolygonFence::Create(Square(c, 200, true), {Square(Direct(c, 90, 1'500'000), 50, false)});
  ASSERT_FALSE(far_hole.ok());
  EXPECT_NE(std::string(far_hole.status().message()).find("a zone must fit in 20 km"),
            std::string::npos)
      << far_hole.status();
  EXPECT_FALSE(PolygonFence::Create(Square(c, 10'100, true)).ok());  // 20.2 km across
  EXPECT_TRUE(PolygonFence::Create(Square(c, 9'900, true)).ok()) << "19.8 km across";
}

TEST(PolygonFenceTest, ManyVertexPolygonAgreesWithBruteForceRayCasting) {
  // A 1000-vertex star; the slab index must give the same answers as testing every edge.
  const LonLat c = Ll(11.57, 48.14);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> wobble(700, 1000), unit(0, 1);
  std::vector<LonLat> ring;
  for (int i = 0; i < 1000; ++i) ring.push_back(Direct(c, 360.0 * i / 1000, wobble(rng)));
  absl::StatusOr<PolygonFence> f = PolygonFence::Create(ring);
  ASSERT_TRUE(f.ok()) << f.status();
  int inside = 0;
  for (int i = 0; i < 2000; ++i) {
    const double azi = 360 * unit(rng), d = 1100 * unit(rng);
    const LonLat p = Direct(c, azi, d);
    // Brute force in polar terms: inside iff closer than the boundary on that bearing.
    const int k = static_cast<int>(azi / 0.36) % 1000;
    const double da = Inverse(c, ring[k]), db = Inverse(c, ring[(k + 1) % 1000]);
    if (d < std::min(da, db) - 1.0) {
      EXPECT_TRUE(f->Contains(p)) << i;
      ++inside;
    } else if (d > std::max(da, db) + 1.0) {
      EXPECT_FALSE(f->Contains(p)) << i;
    }
  }
  EXPECT_GT(inside, 500);
}

}  // namespace
}  // namespace cit::geo
