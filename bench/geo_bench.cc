// Geo micro-benchmarks: corridor queries and polygon containment, ours against GEOS prepared
// geometry on the same routes and points. Results and how to read them: docs/benchmarks.md.
//
//   cmake --build --preset dev --target geo_bench && build/dev/bench/geo_bench
//
// Routes are city-like random walks with 100 m segments (500 vertices = 50 km; 20,000 vertices
// = 2,000 km folded inside a 150 km box, so it passes near itself often). Query points are drawn
// along the route and pushed sideways: 70% within 30 m (a vehicle on its route), 30% up to 2 km.
// GEOS gets the points already projected and already wrapped in GEOSGeometry, so its timings
// exclude work ours includes (mapping lon/lat, progress, the nearest point as lon/lat).
#include <benchmark/benchmark.h>
#include <geos_c.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "geo/corridor.h"
#include "geo/geofence.h"
#include "geo/local_projection.h"
#include "geo/lon_lat.h"
#include "geo/proj_library.h"

namespace {

using cit::geo::Corridor;
using cit::geo::Latitude;
using cit::geo::LocalProjection;
using cit::geo::Longitude;
using cit::geo::LonLat;
using cit::geo::PolygonFence;
using cit::geo::XY;

constexpr double kOriginLon = 11.5754;  // Munich
constexpr double kOriginLat = 48.1372;
constexpr int kPoints = 4096;

LonLat Direct(LonLat from, double azi_deg, double distance_m) {
  double lat = 0, lon = 0;
  cit::geo::LoadedProj().geodesic_direct(&cit::geo::Wgs84Geodesic(), from.lat_deg(), from.lon_deg(),
                                         azi_deg, distance_m, &lat, &lon, nullptr);
  return *LonLat::Create(Longitude{lon}, Latitude{lat});
}

std::vector<LonLat> RandomWalkRoute(int vertices, double box_half_m, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> turn(0.0, 12.0);
  const LonLat origin = *LonLat::Create(Longitude{kOriginLon}, Latitude{kOriginLat});
  std::vector<LonLat> route{origin};
  double heading = 60.0, east = 0.0, north = 0.0;
  while (static_cast<int>(route.size()) < vertices) {
    heading += turn(rng);
    double e = east + 100.0 * std::sin(heading * M_PI / 180.0);
    double n = north + 100.0 * std::cos(heading * M_PI / 180.0);
    if (std::abs(e) > box_half_m || std::abs(n) > box_half_m) {  // turn back into the box
      heading += 180.0;
      continue;
    }
    east = e;
    north = n;
    route.push_back(Direct(route.back(), heading, 100.0));
  }
  return route;
}

struct Workload {
  std::vector<LonLat> route;
  std::unique_ptr<Corridor> corridor;
  std::vector<LonLat> points;
  std::vector<double> progress;  // previous-fix hint for each point (its true progress)
  std::vector<XY> points_xy;     // exact PROJ projection, for GEOS
  std::vector<XY> route_xy;
};

const Workload& GetWorkload(int vertices) {
  static std::map<int, Workload> cache;
  auto it = cache.find(vertices);
  if (it != cache.end()) return it->second;
  Workload w;
  w.route = RandomWalkRoute(vertices, vertices <= 500 ? 1e9 : 75'000.0, 42 + vertices);
  w.corridor = std::make_unique<Corridor>(*Corridor::Create(w.route));
  auto proj = *LocalProjection::ForArea(w.route);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> along(0.0, w.corridor->length_m());
  std::uniform_real_distribution<double> near(0.0, 30.0), far(30.0, 2000.0), unit(0.0, 1.0);
  for (int i = 0; i < kPoints; ++i) {
    const double s = along(rng);
    const double side = unit(rng) < 0.5 ? -90.0 : 90.0;
    const double offset = unit(rng) < 0.7 ? near(rng) : far(rng);
    const LonLat on = w.corridor->PointAt(s);
    const LonLat ahead = w.corridor->PointAt(s + 1.0);
    double azi = 0, s12 = 0;
    cit::geo::LoadedProj().geodesic_inverse(&cit::geo::Wgs84Geodesic(), on.lat_deg(), on.lon_deg(),
                                            ahead.lat_deg(), ahead.lon_deg(), &s12, &azi, nullptr);
    w.points.push_back(Direct(on, azi + side, offset));
    w.progress.push_back(s);
    w.points_xy.push_back(proj.Forward(w.points.back()));
  }
  for (const LonLat& p : w.route) w.route_xy.push_back(proj.Forward(p));
  return cache.emplace(vertices, std::move(w)).first->second;
}

void BM_CorridorLocate(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<int>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.corridor->Locate(w.points[i]));
    i = (i + 1) % w.points.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CorridorLocate)->Arg(500)->Arg(2000)->Arg(20000);

// What a first lookup pays: a fresh corridor (built outside the timing) answers 256 of the
// workload's points, each in a cell and projection block that may not have been built yet
// (both are built on first use). Compare with BM_CorridorLocate (the same points, warm).
void BM_CorridorLocateColdCorridor(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<int>(state.range(0)));
  constexpr std::size_t kQueries = 256;
  std::size_t cells = 0;
  for (auto _ : state) {
    state.PauseTiming();
    absl::StatusOr<Corridor> c = Corridor::Create(w.route);
    state.ResumeTiming();
    for (std::size_t i = 0; i < kQueries; ++i) benchmark::DoNotOptimize(c->Locate(w.points[i]));
    cells = c->cells_built();
  }
  state.SetItemsProcessed(state.iterations() * kQueries);
  state.counters["cells_built"] = static_cast<double>(cells);
}
BENCHMARK(BM_CorridorLocateColdCorridor)->Arg(500)->Unit(benchmark::kMicrosecond);

void BM_CorridorLocateWithPreviousProgress(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<int>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.corridor->Locate(w.points[i], w.progress[i]));
    i = (i + 1) % w.points.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CorridorLocateWithPreviousProgress)->Arg(500)->Arg(20000);

// A vehicle driving the route: fixes every 12 m along it with ~5 m of GNSS noise, each query
// given the previous fix's progress, as the rule engine calls it. Consecutive fixes touch the
// same few cells, so this shows the cost without cache misses.
void BM_CorridorLocateAlongRoute(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<int>(state.range(0)));
  static std::map<int, std::vector<LonLat>> drives;
  std::vector<LonLat>& drive = drives[static_cast<int>(state.range(0))];
  if (drive.empty()) {
    std::mt19937_64 rng(5);
    std::normal_distribution<double> noise(0.0, 5.0);
    for (double s = 0; s < w.corridor->length_m(); s += 12.0) {
      drive.push_back(Direct(w.corridor->PointAt(s), 360.0 * (s / 97.0), std::abs(noise(rng))));
    }
  }
  std::size_t i = 0;
  double progress = 0.0;
  for (auto _ : state) {
    const Corridor::Match m = w.corridor->Locate(drive[i], progress);
    benchmark::DoNotOptimize(m);
    progress = m.progress_m;
    if (++i == drive.size()) i = 0, progress = 0.0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CorridorLocateAlongRoute)->Arg(500)->Arg(20000);

// The same drive with a per-vehicle Corridor::Hint (as the monitor calls it since the hint
// was added): same answers, the neighbourhood of the previous match is tried first.
void BM_CorridorLocateAlongRouteHinted(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<int>(state.range(0)));
  std::vector<LonLat> drive;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 5.0);
  for (double s = 0; s < w.corridor->length_m(); s += 12.0) {
    drive.push_back(Direct(w.corridor->PointAt(s), 360.0 * (s / 97.0), std::abs(noise(rng))));
  }
  std::size_t i = 0;
  double progress = 0.0;
  Corridor::Hint hint;
  for (auto _ : state) {
    const Corridor::Match m = w.corridor->Locate(drive[i], progress, hint);
    benchmark::DoNotOptimize(m);
    progress = m.progress_m;
    if (++i == drive.size()) i = 0, progress = 0.0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hint_hit_pct"] = 100.0 * hint.hits / std::max(1.0, 1.0 * hint.hits + hint.misses);
}
BENCHMARK(BM_CorridorLocateAlongRouteHinted)->Arg(500)->Arg(20000);

// The rule engine's situation: 1,000 vehicles, each driving its own 500-vertex route (1,000
// corridors, far more than the caches hold), one fix per vehicle in turn. hinted 0: Locate
// with the previous progress only; 1: with a per-vehicle hint as well. out_and_back 1: every
// route goes out 250 vertices and comes back on the same road (depot -> bank -> depot).
void BM_CorridorLocateManyRoutes(benchmark::State& state) {
  constexpr int kVehicles = 1000;
  struct Fleet {
    std::vector<std::unique_ptr<Corridor>> corridors;
    std::vector<std::vector<LonLat>> drives;
    std::size_t bytes = 0;
  };
  static Fleet* fleets[2] = {nullptr, nullptr};
  const int out_and_back = static_cast<int>(state.range(1));
  if (fleets[out_and_back] == nullptr) {
    auto* f = new Fleet;
    std::mt19937_64 rng(11);
    std::normal_distribution<double> noise(0.0, 5.0);
    for (int v = 0; v < kVehicles; ++v) {
      // 25 different shapes; every vehicle's corridor is compiled separately, as per run.
      std::vector<LonLat> route =
          RandomWalkRoute(out_and_back ? 250 : 500, 1e9, 1000 + static_cast<unsigned>(v % 25));
      if (out_and_back) {
        for (int k = 248; k >= 0; --k) route.push_back(route[static_cast<std::size_t>(k)]);
      }
      f->corridors.push_back(std::make_unique<Corridor>(*Corridor::Create(route)));
      const Corridor& c = *f->corridors.back();
      f->bytes += c.memory_bytes();
      std::vector<LonLat> drive;
      for (double s = 0; s < c.length_m(); s += 12.0) {
        drive.push_back(Direct(c.PointAt(s), 360.0 * (s / 97.0), std::abs(noise(rng))));
      }
      f->drives.push_back(std::move(drive));
    }
    fleets[out_and_back] = f;
  }
  Fleet* fleet = fleets[out_and_back];
  const bool hinted = state.range(0) != 0;
  std::vector<std::size_t> at(kVehicles);
  std::vector<double> progress(kVehicles, 0.0);
  std::vector<Corridor::Hint> hints(kVehicles);
  for (int v = 0; v < kVehicles; ++v) at[v] = (static_cast<std::size_t>(v) * 7919) % 2000;
  for (auto _ : state) {
    for (int v = 0; v < kVehicles; ++v) {
      const Corridor& c = *fleet->corridors[v];
      const std::vector<LonLat>& drive = fleet->drives[v];
      if (++at[v] >= drive.size()) at[v] = 0, progress[v] = 0.0;
      const Corridor::Match m = hinted ? c.Locate(drive[at[v]], progress[v], hints[v])
                                       : c.Locate(drive[at[v]], progress[v]);
      benchmark::DoNotOptimize(m);
      progress[v] = m.progress_m;
    }
  }
  state.SetItemsProcessed(state.iterations() * kVehicles);
  state.counters["corridors_mb"] = static_cast<double>(fleet->bytes) / (1 << 20);
  if (hinted) {
    double hits = 0, misses = 0;
    for (const Corridor::Hint& h : hints) hits += h.hits, misses += h.misses;
    state.counters["hint_hit_pct"] = 100.0 * hits / std::max(1.0, hits + misses);
  }
}
BENCHMARK(BM_CorridorLocateManyRoutes)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->ArgNames({"hinted", "out_and_back"})
    ->Unit(benchmark::kMicrosecond);

// Building a corridor (projection, R-tree, candidate grid): once per plan.
void BM_CorridorCreate(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Corridor::Create(w.route));
  state.counters["corridor_kb"] = static_cast<double>(w.corridor->memory_bytes()) / 1024.0;
}
BENCHMARK(BM_CorridorCreate)->Arg(500)->Arg(20000)->Unit(benchmark::kMillisecond);

// A zig-zag inside a fixed 1 km x 1 km square: `vertices` alternate between its south and north
// edges, stepping east by 1 km / vertices, so every added vertex packs the legs closer together
// (at 8,000 vertices they are 12.5 cm apart, 1 km long each). The worst case for a spatial index:
// every segment is near hundreds of others, and a candidate list per grid cell or per segment
// would grow with the route. This is what a hostile or broken plan looks like (issue 10, 4.4).
std::vector<LonLat> ZigZagRoute(int vertices, double side_m) {
  const LonLat origin = *LonLat::Create(Longitude{kOriginLon}, Latitude{kOriginLat});
  std::vector<LonLat> route;
  route.reserve(vertices);
  for (int i = 0; i < vertices; ++i) {
    const LonLat base = Direct(origin, 90.0, side_m * i / vertices);
    route.push_back(i % 2 == 0 ? base : Direct(base, 0.0, side_m));
  }
  return route;
}

void BM_CorridorCreateZigZag(benchmark::State& state) {
  const std::vector<LonLat> route = ZigZagRoute(static_cast<int>(state.range(0)), 1'000.0);
  std::size_t bytes = 0;
  for (auto _ : state) {
    absl::StatusOr<Corridor> c = Corridor::Create(route);
    bytes = c.ok() ? c->memory_bytes() : 0;
    benchmark::DoNotOptimize(c);
  }
  state.counters["corridor_kb"] = static_cast<double>(bytes) / 1024.0;
}
BENCHMARK(BM_CorridorCreateZigZag)
    ->Arg(2'000)
    ->Arg(4'000)
    ->Arg(8'000)
    ->Arg(16'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

struct GeosHandle {
  GEOSContextHandle_t h = GEOS_init_r();
  ~GeosHandle() { GEOS_finish_r(h); }
};

GEOSGeometry* GeosLine(GEOSContextHandle_t h, const std::vector<XY>& xy, bool ring) {
  GEOSCoordSequence* seq = GEOSCoordSeq_create_r(h, static_cast<unsigned>(xy.size() + ring), 2);
  for (unsigned i = 0; i < xy.size(); ++i) GEOSCoordSeq_setXY_r(h, seq, i, xy[i].x_m, xy[i].y_m);
  if (ring) GEOSCoordSeq_setXY_r(h, seq, static_cast<unsigned>(xy.size()), xy[0].x_m, xy[0].y_m);
  return ring ? GEOSGeom_createLinearRing_r(h, seq) : GEOSGeom_createLineString_r(h, seq);
}

void BM_GeosPreparedDistance(benchmark::State& state) {
  const Workload& w = GetWorkload(static_cast<int>(state.range(0)));
  GeosHandle g;
  GEOSGeometry* line = GeosLine(g.h, w.route_xy, false);
  const GEOSPreparedGeometry* prepared = GEOSPrepare_r(g.h, line);
  std::vector<GEOSGeometry*> pts;
  for (const XY& p : w.points_xy) pts.push_back(GEOSGeom_createPointFromXY_r(g.h, p.x_m, p.y_m));
  std::size_t i = 0;
  double d = 0;
  GEOSPreparedDistance_r(g.h, prepared, pts[0], &d);  // builds the facet index outside the loop
  for (auto _ : state) {
    GEOSPreparedDistance_r(g.h, prepared, pts[i], &d);
    benchmark::DoNotOptimize(d);
    i = (i + 1) % pts.size();
  }
  state.SetItemsProcessed(state.iterations());
  for (GEOSGeometry* p : pts) GEOSGeom_destroy_r(g.h, p);
  GEOSPreparedGeom_destroy_r(g.h, prepared);
  GEOSGeom_destroy_r(g.h, line);
}
BENCHMARK(BM_GeosPreparedDistance)->Arg(500)->Arg(2000)->Arg(20000);

// A depot-sized irregular polygon (~2 km across) with `vertices` on the outer ring and a hole.
struct PolygonWorkload {
  std::vector<LonLat> outer, hole;
  std::vector<XY> outer_xy, hole_xy;
  std::unique_ptr<PolygonFence> fence;
  std::vector<LonLat> points;
  std::vector<XY> points_xy;
};

const PolygonWorkload& GetPolygon(int vertices) {
  static std::map<int, PolygonWorkload> cache;
  auto it = cache.find(vertices);
  if (it != cache.end()) return it->second;
  PolygonWorkload w;
  const LonLat c = *LonLat::Create(Longitude{kOriginLon}, Latitude{kOriginLat});
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> wobble(700.0, 1000.0), unit(0.0, 1.0);
  for (int i = 0; i < vertices; ++i) {
    w.outer.push_back(Direct(c, 360.0 * i / vertices, wobble(rng)));
  }
  for (int i = 0; i < 16; ++i) w.hole.push_back(Direct(c, 360.0 - 360.0 * i / 16, 200.0));
  w.fence = std::make_unique<PolygonFence>(*PolygonFence::Create(w.outer, {w.hole}));
  auto proj = *LocalProjection::ForArea(w.outer);
  for (const LonLat& p : w.outer) w.outer_xy.push_back(proj.Forward(p));
  for (const LonLat& p : w.hole) w.hole_xy.push_back(proj.Forward(p));
  for (int i = 0; i < kPoints; ++i) {
    w.points.push_back(Direct(c, 360.0 * unit(rng), 1200.0 * unit(rng)));
    w.points_xy.push_back(proj.Forward(w.points.back()));
  }
  return cache.emplace(vertices, std::move(w)).first->second;
}

void BM_PolygonContains(benchmark::State& state) {
  const PolygonWorkload& w = GetPolygon(static_cast<int>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.fence->Contains(w.points[i]));
    i = (i + 1) % w.points.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PolygonContains)->Arg(64)->Arg(1000);

void BM_GeosPreparedContains(benchmark::State& state) {
  const PolygonWorkload& w = GetPolygon(static_cast<int>(state.range(0)));
  GeosHandle g;
  GEOSGeometry* hole = GeosLine(g.h, w.hole_xy, true);
  GEOSGeometry* poly = GEOSGeom_createPolygon_r(g.h, GeosLine(g.h, w.outer_xy, true), &hole, 1);
  const GEOSPreparedGeometry* prepared = GEOSPrepare_r(g.h, poly);
  std::vector<GEOSGeometry*> pts;
  for (const XY& p : w.points_xy) pts.push_back(GEOSGeom_createPointFromXY_r(g.h, p.x_m, p.y_m));
  std::size_t i = 0;
  GEOSPreparedContains_r(g.h, prepared, pts[0]);
  for (auto _ : state) {
    benchmark::DoNotOptimize(GEOSPreparedContains_r(g.h, prepared, pts[i]));
    i = (i + 1) % pts.size();
  }
  state.SetItemsProcessed(state.iterations());
  for (GEOSGeometry* p : pts) GEOSGeom_destroy_r(g.h, p);
  GEOSPreparedGeom_destroy_r(g.h, prepared);
  GEOSGeom_destroy_r(g.h, poly);
}
BENCHMARK(BM_GeosPreparedContains)->Arg(64)->Arg(1000);

// Cost of one exact PROJ forward, to show why queries use GridProjection.
void BM_ProjTransForward(benchmark::State& state) {
  const Workload& w = GetWorkload(500);
  auto proj = *LocalProjection::ForArea(w.route);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(proj.Forward(w.points[i]));
    i = (i + 1) % w.points.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProjTransForward);

}  // namespace

BENCHMARK_MAIN();
