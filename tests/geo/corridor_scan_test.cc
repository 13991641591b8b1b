// Every Corridor::Locate path (grid cell, R-tree, hint) must return exactly (bit for bit) what a
// scan of every segment returns (LocateByScanForTesting: the definition), on routes of every
// shape and for fixes on, near, far off and outside the grid, with and without a previous
// progress. The candidate grid's cells are built on their first lookup, so the answers must also
// not depend on which cells were built before, in which order, or by which thread; Create builds
// none.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "geo/corridor.h"
#include "tests/geo/geodesy_for_tests.h"

namespace cit::geo {
namespace {

using testing::Direct;
using testing::Inverse;
using testing::Ll;
using testing::RandomWalkRoute;

::testing::AssertionResult Same(const Corridor::Match& a, const Corridor::Match& b) {
  if (a.segment_index == b.segment_index && a.distance_m == b.distance_m &&
      a.progress_m == b.progress_m && a.nearest == b.nearest) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "segment " << a.segment_index << " d " << a.distance_m << " p " << a.progress_m
         << " vs scan: segment " << b.segment_index << " d " << b.distance_m << " p "
         << b.progress_m;
}

struct Query {
  LonLat p;
  std::optional<double> previous;
};

// Fixes beside the route: 60% within 40 m (a vehicle on its route), 25% up to 2.5 km (the grid's
// coverage is 2 km), 15% up to 30 km (outside the grid: the R-tree path). Three quarters of them
// with a previous progress: the fix's own, a random one (a stale or wrong history), or that of a
// neighbouring leg (which may win within the ambiguity margin).
std::vector<Query> RandomQueries(const Corridor& c, int count, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> along(-500.0, c.length_m() + 500.0), unit(0.0, 1.0);
  std::uniform_real_distribution<double> near(0.0, 40.0), mid(40.0, 2'500.0),
      far(2'500.0, 30'000.0);
  std::vector<Query> out;
  for (int i = 0; i < count; ++i) {
    const double s = along(rng);
    const LonLat on = c.PointAt(s);
    double azi = 0;
    Inverse(on, c.PointAt(std::clamp(s, 0.0, c.length_m() - 1.0) + 1.0), &azi);
    const double u = unit(rng);
    const double offset = u < 0.6 ? near(rng) : u < 0.85 ? mid(rng) : far(rng);
    const double side = unit(rng) < 0.5 ? -90.0 : 90.0;
    Query q{Direct(on, azi + side + 20.0 * (unit(rng) - 0.5), offset), std::nullopt};
    const double h = unit(rng);
    if (h < 0.25) q.previous = s;
    if (h >= 0.25 && h < 0.5) q.previous = c.length_m() * unit(rng);
    // The history of a neighbouring leg: where a point 20-90 m away matches.
    if (h >= 0.5 && h < 0.75) {
      q.previous = c.LocateByScanForTesting(Direct(q.p, 360.0 * unit(rng), 20.0 + 70.0 * unit(rng)),
                                            std::nullopt)
                       .progress_m;
    }
    out.push_back(q);
  }
  return out;
}

// Each query through the unhinted and the hinted path (one hint, queries in order), against the
// scan.
void ExpectAllPathsMatchTheScan(const Corridor& c, const std::vector<Query>& queries) {
  Corridor::Hint hint;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const Corridor::Match scan = c.LocateByScanForTesting(queries[i].p, queries[i].previous);
    ASSERT_TRUE(Same(c.Locate(queries[i].p, queries[i].previous), scan)) << "query " << i;
    ASSERT_TRUE(Same(c.Locate(queries[i].p, queries[i].previous, hint), scan)) << "query " << i;
  }
}

// The state_rebuild_bench plan's shape: 500 vertices ~350 m apart, zig-zagging 300 m across.
std::vector<LonLat> BenchZigZag(int vertices, double length_m) {
  const LonLat origin = Ll(8.0, 47.0);
  std::vector<LonLat> route;
  for (int i = 0; i < vertices; ++i) {
    const LonLat x = Direct(origin, 90.0, length_m * i / (vertices - 1));
    route.push_back(Direct(x, 0.0, 300.0 * std::sin(i * 0.37) + 300.0));
  }
  return route;
}

std::vector<LonLat> OutAndBack(LonLat start, double leg_m, double step_m) {
  std::vector<LonLat> out{start};
  for (double s = step_m; s <= leg_m; s += step_m) out.push_back(Direct(start, 30.0, s));
  std::vector<LonLat> route = out;
  for (auto it = out.rbegin() + 1; it != out.rend(); ++it) route.push_back(*it);
  return route;
}

struct Shape {
  std::string name;
  std::vector<LonLat> route;
};

std::vector<Shape> Shapes() {
  std::vector<Shape> shapes;
  shapes.push_back({"city_walk_500", RandomWalkRoute(Ll(11.57, 48.14), 500, 11)});
  shapes.push_back({"bench_zigzag_177km", BenchZigZag(500, 177'000.0)});
  shapes.push_back({"out_and_back", OutAndBack(Ll(13.4, 52.5), 8'000.0, 150.0)});
  // Two roads 65 m apart (out on one, back on the other), wiggling: a fix between them
  // with its own progress as history is matched to the farther one (within the margin).
  std::vector<LonLat> carriageways;
  for (int k = 0; k <= 100; ++k) {
    carriageways.push_back(Direct(Ll(4.9, 52.37), 80.0 + 6.0 * std::sin(k * 0.5), 50.0 * k));
  }
  for (int k = 100; k >= 0; --k) carriageways.push_back(Direct(carriageways[k], 350.0, 65.0));
  shapes.push_back({"two_carriageways", carriageways});
  // A loop: a walk that comes back to its start, then a second lap.
  std::vector<LonLat> loop;
  for (int lap = 0; lap < 2; ++lap) {
    for (int k = 0; k < 120; ++k) loop.push_back(Direct(Ll(2.35, 48.85), 3.0 * k, 1'500.0));
  }
  shapes.push_back({"two_laps", loop});
  // Hundreds of legs per cell: a zig-zag packed into 1 km (dense cells take the R-tree path).
  std::vector<LonLat> dense;
  for (int k = 0; k < 2'000; ++k) {
    const LonLat base = Direct(Ll(11.57, 48.14), 90.0, 1'000.0 * k / 2'000);
    dense.push_back(k % 2 == 0 ? base : Direct(base, 0.0, 1'000.0));
  }
  shapes.push_back({"dense_zigzag", dense});
  // Duplicate and jittery vertices, segments of centimetres to kilometres.
  std::vector<LonLat> jitter = RandomWalkRoute(Ll(-0.12, 51.5), 200, 5, 30.0);
  jitter.insert(jitter.begin() + 50, jitter[50]);
  jitter.insert(jitter.begin(), jitter.front());
  jitter.push_back(Direct(jitter.back(), 10.0, 4'000.0));
  shapes.push_back({"jitter_duplicates_long_tail", jitter});
  // Across the antimeridian.
  shapes.push_back({"antimeridian", RandomWalkRoute(Ll(179.9, -16.5), 200, 8)});
  return shapes;
}

TEST(CorridorScanTest, EveryPathMatchesTheScanOnRoutesOfEveryShape) {
  unsigned seed = 100;
  for (const Shape& shape : Shapes()) {
    SCOPED_TRACE(shape.name);
    absl::StatusOr<Corridor> c = Corridor::Create(shape.route);
    ASSERT_TRUE(c.ok()) << c.status();
    ExpectAllPathsMatchTheScan(*c, RandomQueries(*c, 3'000, ++seed));
    EXPECT_GT(c->cells_built(), 0u);
    EXPECT_LE(c->cells_built(), c->cell_count());
  }
}

TEST(CorridorScanTest, CreateBuildsNoCellAndALookupBuildsOnlyItsOwn) {
  absl::StatusOr<Corridor> c = Corridor::Create(BenchZigZag(500, 177'000.0));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->cells_built(), 0u);
  EXPECT_GT(c->cell_count(), 1'000u);
  const std::size_t before = c->memory_bytes();
  const LonLat q = Direct(c->PointAt(50'000.0), 0.0, 25.0);
  const Corridor::Match first = c->Locate(q);
  EXPECT_EQ(c->cells_built(), 1u);
  EXPECT_GE(c->memory_bytes(), before);
  // The second lookup reads the built cell: same answer, nothing built.
  EXPECT_TRUE(Same(c->Locate(q), first));
  EXPECT_EQ(c->cells_built(), 1u);
  EXPECT_TRUE(Same(first, c->LocateByScanForTesting(q, std::nullopt)));
}

// Two corridors of one route, the same queries in opposite orders (so their cells are built in
// opposite orders, each cell's first query differing): identical answers.
TEST(CorridorScanTest, AnswersDoNotDependOnTheOrderInWhichCellsWereBuilt) {
  const std::vector<LonLat> route = RandomWalkRoute(Ll(11.57, 48.14), 800, 21);
  absl::StatusOr<Corridor> a = Corridor::Create(route);
  absl::StatusOr<Corridor> b = Corridor::Create(route);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<Query> queries = RandomQueries(*a, 4'000, 22);
  std::vector<Corridor::Match> forward;
  for (const Query& q : queries) forward.push_back(a->Locate(q.p, q.previous));
  for (std::size_t i = queries.size(); i-- > 0;) {
    ASSERT_TRUE(Same(b->Locate(queries[i].p, queries[i].previous), forward[i])) << i;
  }
  EXPECT_EQ(a->cells_built(), b->cells_built());
}

// Fresh corridor, four threads asking the same fixes at once: the threads race to build the same
// cells (the losers answer from the R-tree meanwhile); every answer equals the scan's.
TEST(CorridorScanTest, ThreadsRacingToBuildTheSameCellsGetTheScanAnswer) {
  for (unsigned round = 0; round < 4; ++round) {
    absl::StatusOr<Corridor> c = Corridor::Create(RandomWalkRoute(Ll(11.57, 48.14), 500, round));
    ASSERT_TRUE(c.ok());
    const std::vector<Query> queries = RandomQueries(*c, 1'500, 40 + round);
    std::vector<Corridor::Match> scan;
    for (const Query& q : queries) scan.push_back(c->LocateByScanForTesting(q.p, q.previous));
    std::vector<std::vector<Corridor::Match>> got(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        Corridor::Hint hint;
        for (const Query& q : queries) {
          got[t].push_back(t % 2 == 0 ? c->Locate(q.p, q.previous)
                                      : c->Locate(q.p, q.previous, hint));
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < 4; ++t) {
      for (std::size_t i = 0; i < queries.size(); ++i) {
        ASSERT_TRUE(Same(got[t][i], scan[i])) << "thread " << t << " query " << i;
      }
    }
  }
}

}  // namespace
}  // namespace cit::geo
