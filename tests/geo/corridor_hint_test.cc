// Corridor::Locate with a per-vehicle Hint must give exactly (bit for bit) the answer of Locate
// without one, for any hint: driving in order, U-turns, loops, out-and-back on one road,
// hairpins, jumps to another leg or far off the route, stale or foreign hints, zero-length and
// dense segments. Also: the hint is actually used where the route is clear (else these tests
// would only exercise the fallback), and GridProjection's cell cache is bit-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "geo/corridor.h"
#include "geo/grid_projection.h"
#include "tests/geo/geodesy_for_tests.h"

namespace cit::geo {
namespace {

using testing::Direct;
using testing::Inverse;
using testing::Ll;
using testing::RandomWalkRoute;

LonLat Beside(const Corridor& c, double progress_m, double offset_m) {
  const LonLat on = c.PointAt(progress_m);
  double azi = 0;
  Inverse(on, c.PointAt(progress_m + 1.0), &azi);
  return Direct(on, azi + 90.0, offset_m);
}

// Exact equality of every field (EXPECT_EQ on doubles compares bits, not within a tolerance).
::testing::AssertionResult SameMatch(const Corridor::Match& a, const Corridor::Match& b) {
  if (a.segment_index == b.segment_index && a.distance_m == b.distance_m &&
      a.progress_m == b.progress_m && a.nearest == b.nearest) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "hinted: segment " << a.segment_index << " d " << a.distance_m << " p " << a.progress_m
         << " vs unhinted: segment " << b.segment_index << " d " << b.distance_m << " p "
         << b.progress_m;
}

// Drives `fixes` in order the way the monitor does (previous progress and one hint), checking
// each answer against the unhinted Locate. Returns the hint (hits/misses).
Corridor::Hint DriveAndCompare(const Corridor& c, const std::vector<LonLat>& fixes,
                               Corridor::Hint hint = {}) {
  std::optional<double> previous;
  for (std::size_t i = 0; i < fixes.size(); ++i) {
    const Corridor::Match plain = c.Locate(fixes[i], previous);
    const Corridor::Match hinted = c.Locate(fixes[i], previous, hint);
    EXPECT_TRUE(SameMatch(hinted, plain)) << "fix " << i;
    // The monitor's second query when off the corridor: nearest, without history.
    Corridor::Hint copy = hint;
    EXPECT_TRUE(SameMatch(c.Locate(fixes[i], std::nullopt, copy), c.Locate(fixes[i]))) << i;
    previous = plain.progress_m;
  }
  return hint;
}

// Fixes every `step_m` along [from_m, to_m] (either direction), `sigma_m` sideways noise.
std::vector<LonLat> Drive(const Corridor& c, double from_m, double to_m, double step_m,
                          double sigma_m, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, sigma_m);
  std::vector<LonLat> out;
  const double dir = to_m >= from_m ? 1.0 : -1.0;
  for (double s = from_m; dir * (to_m - s) >= 0; s += dir * step_m) {
    out.push_back(Beside(c, s, noise(rng)));
  }
  return out;
}

std::vector<LonLat> OutAndBack(LonLat start, double leg_m, double step_m = 200) {
  std::vector<LonLat> out{start};
  for (double s = step_m; s <= leg_m; s += step_m) out.push_back(Direct(start, 30.0, s));
  std::vector<LonLat> route = out;
  for (auto it = out.rbegin() + 1; it != out.rend(); ++it) route.push_back(*it);
  return route;
}

TEST(CorridorHintTest, DrivingACityRouteInOrderGivesTheSameAnswersAndUsesTheHint) {
  absl::StatusOr<Corridor> c = Corridor::Create(RandomWalkRoute(Ll(11.57, 48.14), 500, 6));
  ASSERT_TRUE(c.ok());
  const Corridor::Hint hint = DriveAndCompare(*c, Drive(*c, 0, c->length_m(), 7.0, 5.0, 1));
  // Wherever the random walk does not pass near itself, the neighbourhood decides.
  EXPECT_GT(hint.hits, 9 * hint.misses) << hint.hits << " hits, " << hint.misses << " misses";
  RecordProperty("hits", static_cast<int>(hint.hits));
  RecordProperty("misses", static_cast<int>(hint.misses));
}

TEST(CorridorHintTest, UTurnAgainstTheRouteGivesTheSameAnswers) {
  absl::StatusOr<Corridor> c = Corridor::Create(RandomWalkRoute(Ll(8.5, 47.3), 120, 3));
  ASSERT_TRUE(c.ok());
  std::vector<LonLat> fixes = Drive(*c, 1000, 6000, 9.0, 4.0, 2);
  const std::vector<LonLat> back = Drive(*c, 6000, 2500, 9.0, 4.0, 3);  // turns round
  fixes.insert(fixes.end(), back.begin(), back.end());
  const std::vector<LonLat> again = Drive(*c, 2500, 9000, 9.0, 4.0, 4);
  fixes.insert(fixes.end(), again.begin(), again.end());
  const Corridor::Hint hint = DriveAndCompare(*c, fixes);
  EXPECT_GT(hint.hits, hint.misses);
}

TEST(CorridorHintTest, OutAndBackOnOneRoadGivesTheSameAnswersOnBothLegs) {
  // The legs coincide: each segment's neighbourhood includes the other leg's segments beside
  // it ("others"), and the leg choice among them must come out as without a hint.
  absl::StatusOr<Corridor> c = Corridor::Create(OutAndBack(Ll(34.86, 32.33), 3000));
  ASSERT_TRUE(c.ok());
  const Corridor::Hint hint = DriveAndCompare(*c, Drive(*c, 0, c->length_m(), 12.0, 6.0, 5));
  EXPECT_GT(hint.hits, 10 * hint.misses);
}

TEST(CorridorHintTest, LoopsAndAFigureEightGiveTheSameAnswers) {
  const LonLat depot = Ll(11.57, 48.14);
  // A square loop back to the depot, then a figure eight crossing itself at the depot.
  std::vector<LonLat> route{depot};
  for (double azi : {0.0, 90.0, 180.0, 270.0, 180.0, 90.0, 0.0, 270.0}) {
    for (int k = 0; k < 10; ++k) route.push_back(Direct(route.back(), azi, 100.0));
  }
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  const Corridor::Hint hint = DriveAndCompare(*c, Drive(*c, 0, c->length_m(), 6.0, 5.0, 6));
  EXPECT_GT(hint.hits, 10 * hint.misses);
}

TEST(CorridorHintTest, HairpinsWithParallelLegsGiveTheSameAnswers) {
  // A switchback road: legs 60 m apart, turning every 1 km, 10 m vertices.
  std::vector<LonLat> route{Ll(10.0, 46.5)};
  for (int leg = 0; leg < 6; ++leg) {
    const double azi = leg % 2 == 0 ? 90.0 : 270.0;
    for (int k = 0; k < 100; ++k) route.push_back(Direct(route.back(), azi, 10.0));
    for (int k = 0; k < 6; ++k) route.push_back(Direct(route.back(), 0.0, 10.0));
  }
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  const Corridor::Hint hint = DriveAndCompare(*c, Drive(*c, 0, c->length_m(), 5.0, 8.0, 7));
  EXPECT_GT(hint.hits, hint.misses);
}

TEST(CorridorHintTest, JumpsToAnotherLegFarAwayAndOffTheRouteGiveTheSameAnswers) {
  absl::StatusOr<Corridor> c = Corridor::Create(RandomWalkRoute(Ll(11.57, 48.14), 400, 8));
  ASSERT_TRUE(c.ok());
  std::vector<LonLat> fixes = Drive(*c, 500, 2000, 10.0, 5.0, 9);
  // Teleported 25 km further along (a replayed backlog, a swapped receiver).
  for (const LonLat& p : Drive(*c, 27'000, 28'000, 10.0, 5.0, 10)) fixes.push_back(p);
  // Back to the start.
  for (const LonLat& p : Drive(*c, 0, 300, 10.0, 5.0, 11)) fixes.push_back(p);
  // 2 km and 30 km off the route (grid and R-tree fallbacks), then back on.
  fixes.push_back(Beside(*c, 300, 2000));
  fixes.push_back(Beside(*c, 300, 30'000));
  fixes.push_back(Beside(*c, 310, 60));
  fixes.push_back(Beside(*c, 320, 3));
  const Corridor::Hint hint = DriveAndCompare(*c, fixes);
  EXPECT_GT(hint.hits, hint.misses);
}

TEST(CorridorHintTest, AnyHintAndAnyHistoryGiveTheSameAnswerAsNoHint) {
  // Random points near and far, random previous progress (or none), random hint segments
  // (including out of range) and hints left by another corridor.
  absl::StatusOr<Corridor> c = Corridor::Create(RandomWalkRoute(Ll(-73.98, 40.75), 300, 12));
  absl::StatusOr<Corridor> other = Corridor::Create(RandomWalkRoute(Ll(-73.9, 40.7), 50, 13));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(other.ok());
  std::mt19937_64 rng(14);
  std::uniform_real_distribution<double> along(-200, c->length_m() + 200);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<std::uint32_t> segment(0, 310);
  int hits = 0;
  for (int i = 0; i < 4000; ++i) {
    const double side = unit(rng) < 0.8 ? 60 * (unit(rng) - 0.5) : 6000 * (unit(rng) - 0.5);
    const LonLat q = Beside(*c, along(rng), side);
    std::optional<double> previous;
    if (unit(rng) < 0.7) previous = along(rng);
    Corridor::Hint hint;
    if (unit(rng) < 0.2) {
      other->Locate(q, previous, hint);  // a foreign hint
    } else if (unit(rng) < 0.9) {
      hint.segment = segment(rng);
    } else {
      hint.segment = 0xffff'fffe;
    }
    // A hint near the answer (the common case) must agree too.
    Corridor::Hint near;
    const Corridor::Match plain = c->Locate(q, previous);
    near.segment = static_cast<std::uint32_t>(plain.segment_index) + segment(rng) % 5;
    near.segment = near.segment >= 2 ? near.segment - 2 : 0;
    ASSERT_TRUE(SameMatch(c->Locate(q, previous, hint), plain)) << "point " << i;
    ASSERT_TRUE(SameMatch(c->Locate(q, previous, near), plain)) << "point " << i;
    hits += static_cast<int>(near.hits);
  }
  EXPECT_GT(hits, 1000) << "the neighbourhood answers most points near the route";
}

TEST(CorridorHintTest, DenseJitteryAndDuplicateVerticesGiveTheSameAnswers) {
  // A GPS-recorded route: 1 m vertices with 0.5 m jitter, stops with repeated positions. (The
  // neighbourhood, at most 16 segments each side, is too short here to prove anything: these
  // queries take the grid path, and must agree all the same.)
  std::mt19937_64 rng(15);
  std::normal_distribution<double> jitter(0.0, 0.5);
  std::vector<LonLat> route{Ll(2.35, 48.85)};
  double heading = 10;
  LonLat centre = route.back();
  for (int i = 0; i < 3000; ++i) {
    if (i % 500 == 250) {
      for (int k = 0; k < 20; ++k) route.push_back(route.back());  // standing still
    }
    heading += 0.3;
    centre = Direct(centre, heading, 1.0);
    route.push_back(Direct(centre, 90, jitter(rng)));
  }
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  DriveAndCompare(*c, Drive(*c, 0, c->length_m(), 3.0, 3.0, 16));
}

TEST(CorridorHintTest, ZigZagWithHundredsOfLegsPerCellGivesTheSameAndExactAnswers) {
  // Issue 10, 4.4: 3,000 vertices alternating between the edges of a 1 km square, legs 33 cm
  // apart. Every grid cell is near far more than kMaxCellCandidates segments, so cells are left
  // to the R-tree, and neighbourhoods come from k-nearest queries: answers must not change.
  const LonLat origin = Ll(11.5754, 48.1372);
  std::vector<LonLat> route;
  for (int i = 0; i < 3000; ++i) {
    const LonLat base = Direct(origin, 90.0, 1000.0 * i / 3000);
    route.push_back(i % 2 == 0 ? base : Direct(base, 0.0, 1000.0));
  }
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok()) << c.status();
  // On the centre-line (mid-leg and near vertices), the distance is zero.
  for (double s = 500.0; s < c->length_m(); s += 97'003.0) {
    const Corridor::Match m = c->Locate(c->PointAt(s));
    EXPECT_LT(m.distance_m, 0.01) << "at progress " << s;
  }
  // Driven in order, then across the legs and from outside the square: hinted == unhinted.
  DriveAndCompare(*c, Drive(*c, 0, 20'000, 7.0, 0.2, 21));
  std::vector<LonLat> across;
  for (double x = -300; x <= 1300; x += 3.7) {
    across.push_back(Direct(Direct(origin, 90.0, x), 0.0, 480.0));
  }
  DriveAndCompare(*c, across);
}

TEST(CorridorHintTest, AntimeridianRouteGivesTheSameAnswers) {
  std::vector<LonLat> route{Ll(179.9, -16.8)};
  for (int k = 0; k < 60; ++k) route.push_back(Direct(route.back(), 95.0, 100.0));
  absl::StatusOr<Corridor> c = Corridor::Create(route);
  ASSERT_TRUE(c.ok());
  const Corridor::Hint hint = DriveAndCompare(*c, Drive(*c, 0, c->length_m(), 5.0, 5.0, 17));
  EXPECT_GT(hint.hits, hint.misses);
}

TEST(GridProjectionCellCacheTest, CachedForwardIsBitIdenticalIncludingOutsideTheGrid) {
  const std::vector<LonLat> area = {Ll(8.4, 47.3), Ll(8.6, 47.45)};
  absl::StatusOr<GridProjection> g = GridProjection::ForArea(area, 2000);
  absl::StatusOr<GridProjection> other = GridProjection::ForArea(area, 2000);
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(other.ok());
  std::mt19937_64 rng(18);
  std::uniform_real_distribution<double> lon(8.2, 8.8), lat(47.1, 47.6);
  GridProjection::CellCache cache;
  GridProjection::CellCache foreign;
  LonLat walk = Ll(8.45, 47.35);
  for (int i = 0; i < 5000; ++i) {
    // Alternate a walk (cache hits) with random jumps (cache misses, outside the grid too).
    const LonLat p = i % 4 == 3 ? Ll(lon(rng), lat(rng)) : (walk = Direct(walk, 40, 7.0));
    const XY plain = g->Forward(p);
    const XY cached = g->Forward(p, cache);
    ASSERT_EQ(plain.x_m, cached.x_m) << i;
    ASSERT_EQ(plain.y_m, cached.y_m) << i;
    other->Forward(p, foreign);
    const XY after_foreign = g->Forward(p, foreign);  // filled by the other instance
    ASSERT_EQ(plain.x_m, after_foreign.x_m) << i;
    ASSERT_EQ(plain.y_m, after_foreign.y_m) << i;
  }
}

}  // namespace
}  // namespace cit::geo
