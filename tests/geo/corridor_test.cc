// Corridor: distance to the centre-line, nearest segment and progress along the route, checked
// against PROJ's geodesic (geod_inverse / geod_direct) as ground truth.
#include "geo/corridor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/geo/geodesy_for_tests.h"

namespace cit::geo {
namespace {

using testing::Direct;
using testing::DistanceToRoute;
using testing::Inverse;
using testing::Ll;
using testing::RandomWalkRoute;

// A point `offset_m` to the side of the route at `progress_m` (left for negative offsets).
LonLat Beside(const Corridor& c, double progress_m, double offset_m) {
  const LonLat on = c.PointAt(progress_m);
  double azi = 0;
  Inverse(on, c.PointAt(progress_m + 1.0), &azi);
  return Direct(on, azi + 90.0, offset_m);
}

TEST(CorridorTest, StraightRouteGivesPerpendicularDistanceAndProgress) {
  const LonLat a = Ll(8.50, 47.37);
  const LonLat b = Direct(a, 90.0, 5000.0);
  absl::StatusOr<Corridor> c = Corridor::Create({a, b});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->length_m(), 5000.0, 1e-6);
  const LonLat mid = c->PointAt(2000.0);
  double azi = 0;
  Inverse(a, mid, &azi);
  const LonLat off = Direct(mid, azi - 90.0, 120.0);
  Corridor::Match m = c->Locate(off);
  EXPECT_NEAR(m.distance_m, 120.0, 0.05);
  EXPECT_NEAR(m.progress_m, 2000.0, 0.5);
  EXPECT_EQ(m.segment_index, 0u);
  EXPECT_NEAR(Inverse(m.nearest, mid), 0.0, 0.5);
}

TEST(CorridorTest, RejectsRouteWithFewerThanTwoDistinctPoints) {
  EXPECT_FALSE(Corridor::Create({}).ok());
  EXPECT_FALSE(Corridor::Create({Ll(1, 1)}).ok());
  absl::StatusOr<Corridor> c = Corridor::Create({Ll(1, 1), Ll(1, 1), Ll(1, 1)});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(c.status().message()).find("2 distinct"), std::string::npos);
}

TEST(CorridorTest, RejectsPolarRouteWithClearError) {
  absl::StatusOr<Corridor> c = Corridor::Create({Ll(10, 86), Ll(11, 86.1)});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("polar"), std::string::npos) << c.status();
}

TEST(CorridorTest, RejectsRouteSpanningAContinentWithClearError) {
  absl::StatusOr<Corridor> c = Corridor::Create({Ll(-20, 10), Ll(20, 10)});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("km east-west"), std::string::npos)
      << c.status();
}

// The acceptance check of issue 2: a 50 km route, points within 2 km, error under 0.5 m against
// the geodesic distance to the route, in several places of the world.
struct Place {
  const char* name;
  double lon, lat;
};

class CorridorAccuracyTest : public ::testing::TestWithParam<Place> {};

TEST_P(CorridorAccuracyTest, DistanceWithinHalfMetreOfGeodesicForPointsWithin2KmOf50KmRoute) {
  const Place place = GetParam();
  const std::vector<LonLat> route = RandomWalkRoute(Ll(place.lon, place.lat), 501, 11);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_NEAR(c->length_m(), 50'000.0, 1e-3);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> along(0.0, c->length_m()), side(-2000.0, 2000.0);
  double worst = 0.0;
  for (int i = 0; i < 120; ++i) {
    const LonLat q = Beside(*c, along(rng), side(rng));
    const Corridor::Match m = c->Locate(q);
    const double truth = DistanceToRoute(q, route);
    worst = std::max(worst, std::abs(m.distance_m - truth));
    ASSERT_NEAR(m.distance_m, truth, 0.5) << "point " << i;
    // The reported nearest point is where that distance is measured to.
    EXPECT_NEAR(Inverse(q, m.nearest), m.distance_m, 0.5) << "point " << i;
  }
  RecordProperty("worst_error_mm", static_cast<int>(worst * 1000));
  EXPECT_LT(worst, 0.1) << "expected centimetre-level agreement";
}

INSTANTIATE_TEST_SUITE_P(
    Places, CorridorAccuracyTest,
    ::testing::Values(Place{"Munich", 11.57, 48.14}, Place{"Netanya", 34.86, 32.33},
                      Place{"Quito", -78.47, -0.18}, Place{"Oslo", 10.75, 59.91},
                      Place{"Tromso", 18.96, 69.65}, Place{"Ushuaia", -68.30, -54.80}),
    [](const ::testing::TestParamInfo<Place>& param) { return std::string(param.param.name); });

TEST(CorridorTest, RouteAcrossUtmZoneBoundaryIsAsAccurateAsAnyOther) {
  // 12 E is the boundary of UTM zones 32 and 33; the projection is centred on the route, so the
  // zone boundary plays no role.
  std::vector<LonLat> route;
  for (int i = 0; i <= 60; ++i) route.push_back(Ll(11.6 + i * 0.0133, 48.10 + 0.01 * std::sin(i)));
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok()) << c.status();
  for (double lon : {11.7, 11.99, 12.0, 12.01, 12.3}) {
    for (double dlat : {-0.015, 0.004, 0.017}) {
      const LonLat q = Ll(lon, 48.10 + dlat);
      EXPECT_NEAR(c->Locate(q).distance_m, DistanceToRoute(q, route), 0.5) << lon << " " << dlat;
    }
  }
}

TEST(CorridorTest, RouteAcrossAntimeridianGivesContinuousProgressAndExactDistances) {
  // Taveuni, Fiji: the 180th meridian runs across the island.
  std::vector<LonLat> route;
  for (int i = 0; i <= 40; ++i) {
    route.push_back(Ll(testing::Wrap(179.90 + i * 0.005), -16.85 + 0.002 * std::cos(i)));
  }
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok()) << c.status();
  double expected_length = 0;
  for (std::size_t i = 0; i + 1 < route.size(); ++i)
    expected_length += Inverse(route[i], route[i + 1]);
  EXPECT_NEAR(c->length_m(), expected_length, 1e-6);
  double last_progress = -1;
  for (double lon : {179.95, 179.999, -179.999, -179.95}) {
    const LonLat q = Ll(lon, -16.853);
    const Corridor::Match m = c->Locate(q);
    EXPECT_NEAR(m.distance_m, DistanceToRoute(q, route), 0.5) << lon;
    EXPECT_GT(m.progress_m, last_progress) << "progress must grow eastwards across 180";
    last_progress = m.progress_m;
    EXPECT_GE(m.nearest.lon_deg(), -180.0);
    EXPECT_LE(m.nearest.lon_deg(), 180.0);
  }
}

// Out along a road and back on the same road: the two legs coincide.
std::vector<LonLat> OutAndBack(LonLat start, double leg_m) {
  std::vector<LonLat> out{start};
  for (double s = 200; s <= leg_m; s += 200) out.push_back(Direct(start, 30.0, s));
  std::vector<LonLat> route = out;
  for (auto it = out.rbegin() + 1; it != out.rend(); ++it) route.push_back(*it);
  return route;
}

TEST(CorridorTest, OutAndBackUsesPreviousProgressToStayOnTheReturnLeg) {
  const std::vector<LonLat> route = OutAndBack(Ll(11.57, 48.14), 4000);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  ASSERT_NEAR(c->length_m(), 8000, 0.01);
  const LonLat q = Beside(*c, 1500, 8.0);  // 1.5 km out, i.e. 6.5 km along on the way back
  EXPECT_NEAR(c->Locate(q, 6400.0).progress_m, 6500, 1.0);
  EXPECT_NEAR(c->Locate(q, 1400.0).progress_m, 1500, 1.0);
  EXPECT_NEAR(c->Locate(q).progress_m, 1500, 1.0) << "without history: the first leg";
  EXPECT_NEAR(c->Locate(q, 6400.0).distance_m, 8.0, 0.05);
}

TEST(CorridorTest, DrivingOutAndBackWithNoisyFixesNeverJumpsToTheOtherLeg) {
  const std::vector<LonLat> route = OutAndBack(Ll(34.86, 32.33), 3000);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  std::mt19937_64 rng(9);
  std::normal_distribution<double> noise(0.0, 6.0);
  std::optional<double> previous;
  for (double s = 0; s <= c->length_m(); s += 12.0) {  // ~12 m/s at 1 Hz
    const Corridor::Match m = c->Locate(Beside(*c, s, noise(rng)), previous);
    ASSERT_NEAR(m.progress_m, s, 25.0) << "at true progress " << s;
    previous = m.progress_m;
  }
  EXPECT_GT(*previous, c->length_m() - 30.0);
}

TEST(CorridorTest, LoopBackToTheStartReportsProgressNearTheEndWhenArrivingLate) {
  // A 4 km square loop ending where it started (depot -> stops -> depot).
  const LonLat depot = Ll(11.57, 48.14);
  std::vector<LonLat> route{depot};
  for (double azi : {0.0, 90.0, 180.0, 270.0}) {
    for (int k = 0; k < 10; ++k) route.push_back(Direct(route.back(), azi, 100.0));
  }
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  const LonLat arriving = Direct(depot, 0.0, 5.0);  // right by the depot
  EXPECT_NEAR(c->Locate(arriving, c->length_m() - 40.0).progress_m, c->length_m(), 10.0);
  EXPECT_NEAR(c->Locate(arriving, 20.0).progress_m, 5.0, 1.0);
}

TEST(CorridorTest, PreviousProgressChoosesBetweenEquallyNearLegsAndStepsBackCountDouble) {
  const std::vector<LonLat> route = OutAndBack(Ll(11.57, 48.14), 3000);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  // 3 m beside the road at 1 km out; the return leg passes here at 5 km.
  const LonLat q = Beside(*c, 1000, 3.0);
  // From 1.8 km: 1 km is 0.8 km back (counts 1.6), 5 km is 3.2 km ahead: the outbound leg.
  EXPECT_NEAR(c->Locate(q, 1800.0).progress_m, 1000, 1.0);
  // From 2.5 km: 1 km is 1.5 km back (counts 3.0), 5 km is 2.5 km ahead: the return leg.
  const Corridor::Match m = c->Locate(q, 2500.0);
  EXPECT_NEAR(m.progress_m, 5000, 1.0);
  EXPECT_NEAR(m.distance_m, 3.0, 0.05);
}

TEST(CorridorTest, PreviousProgressNeverExplainsAFixByALegBeyondTheMargin) {
  const std::vector<LonLat> route = OutAndBack(Ll(11.57, 48.14), 3000);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  // 300 m off the far end: only that part of the route is near, whatever the history says.
  const LonLat far = Direct(c->PointAt(3000), 30.0, 300.0);
  const Corridor::Match m = c->Locate(far, 100.0);
  EXPECT_NEAR(m.distance_m, 300.0, 0.05);
  EXPECT_NEAR(m.progress_m, 3000.0, 1.0);
}

TEST(CorridorTest, PointAtFollowsTheGeodesicAndClampsOutOfRange) {
  const std::vector<LonLat> route = RandomWalkRoute(Ll(11.57, 48.14), 50, 3);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->PointAt(-5.0), route.front());
  EXPECT_EQ(c->PointAt(1e9), route.back());
  EXPECT_EQ(c->PointAt(std::nan("")), route.front());
  EXPECT_NEAR(Inverse(c->PointAt(250.0), Direct(route[2], 0, 0)), 50.0, 1e-6);
  for (double s : {0.0, 123.0, 2222.0, 4899.0}) {
    const Corridor::Match m = c->Locate(c->PointAt(s));
    EXPECT_NEAR(m.distance_m, 0.0, 0.02);
    EXPECT_NEAR(m.progress_m, s, 0.02);
  }
}

TEST(CorridorTest, VertexQueryReportsZeroDistanceAndCumulativeProgress) {
  const std::vector<LonLat> route = RandomWalkRoute(Ll(-0.12, 51.5), 30, 8);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  const Corridor::Match m = c->Locate(route[17]);
  EXPECT_NEAR(m.distance_m, 0.0, 0.02);
  EXPECT_NEAR(m.progress_m, 1700.0, 0.02);
  EXPECT_NEAR(Inverse(m.nearest, route[17]), 0.0, 0.01);
  EXPECT_EQ(c->vertices().size(), route.size());
}

TEST(CorridorTest, ConsecutiveDuplicateVerticesAreHarmless) {
  const LonLat a = Ll(11.57, 48.14);
  const LonLat b = Direct(a, 45, 500);
  const LonLat d = Direct(b, 135, 500);
  absl::StatusOr<Corridor> c = Corridor::Create({a, a, b, b, b, d});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->length_m(), 1000.0, 1e-6);
  const Corridor::Match m = c->Locate(Direct(b, 0, 30));
  EXPECT_LT(m.distance_m, 30.05);
  EXPECT_NEAR(m.progress_m, 500.0, 25.0);
  EXPECT_TRUE(m.segment_index == 1 || m.segment_index == 4) << m.segment_index;
}

TEST(CorridorTest, FixFarOffTheRouteIsStillMeasuredExactly) {
  // 30 km off: outside the candidate grid, answered from the R-tree.
  const std::vector<LonLat> route = RandomWalkRoute(Ll(11.57, 48.14), 200, 4);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  for (const LonLat q : {Direct(route[100], 0, 30'000), Direct(route[0], 200, 60'000)}) {
    const double truth = DistanceToRoute(q, route);
    const Corridor::Match m = c->Locate(q);
    EXPECT_NEAR(m.distance_m, truth, 0.5);
    EXPECT_NEAR(Inverse(q, m.nearest), m.distance_m, 0.5);
    // With a previous progress another leg may be chosen, but only within the margin.
    const Corridor::Match hinted = c->Locate(q, 5000.0);
    EXPECT_GE(hinted.distance_m, truth - 0.5);
    EXPECT_LE(hinted.distance_m, truth + Corridor::kAmbiguityMargin_m);
  }
}

TEST(CorridorTest, ConcurrentLocateFromManyThreadsAgreesWithSerialAnswers) {
  const std::vector<LonLat> route = RandomWalkRoute(Ll(11.57, 48.14), 500, 6);
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  std::vector<LonLat> points;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> along(0, c->length_m()), side(-40'000, 40'000);
  for (int i = 0; i < 400; ++i) points.push_back(Beside(*c, along(rng), side(rng)));
  std::vector<double> serial;
  for (const LonLat& p : points) serial.push_back(c->Locate(p).distance_m);
  std::vector<std::vector<double>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (const LonLat& p : points) results[t].push_back(c->Locate(p).distance_m);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, serial);
}

TEST(CorridorTest, MovedCorridorKeepsAnswering) {
  absl::StatusOr<Corridor> c = Corridor::Create(RandomWalkRoute(Ll(11.57, 48.14), 20, 2));
  ASSERT_TRUE(c.ok());
  const LonLat q = Beside(*c, 700, 20);
  const double before = c->Locate(q).distance_m;
  Corridor moved = *std::move(c);
  EXPECT_DOUBLE_EQ(moved.Locate(q).distance_m, before);
}

}  // namespace
}  // namespace cit::geo
