// A route corridor: the route polyline projected once into a local transverse Mercator, its
// segments in a Boost.Geometry R-tree, answering "how far is this fix from the centre-line,
// which segment is nearest, and how far along the route is it" in a few hundred nanoseconds.
//
//   absl::StatusOr<Corridor> corridor = Corridor::Create(std::move(route_points));
//   if (!corridor.ok()) return corridor.status();
//   Corridor::Match m = corridor->Locate(fix, last_progress_m);
//   if (m.distance_m > half_width_m) { ... }   // off route
//   last_progress_m = m.progress_m;
//
//   Corridor::Hint hint;                        // per vehicle, kept between its fixes
//   m = corridor->Locate(fix, last_progress_m, hint);   // same answer, usually much cheaper
//
// Distances are geodesic to within a few centimetres for fixes within tens of kilometres of the
// route (plane distance divided by the projection's scale factor; the fix is mapped through a
// GridProjection). Progress is measured along the geodesic segments between vertices.
//
// Routes that come back near themselves (loops, out-and-back on one road): pass the previous
// fix's progress. Locate then considers the legs (local minima of the distance along the route)
// no more than kAmbiguityMargin_m farther than the nearest one and picks the most plausible, as
// one step of an HMM map matcher would: cost = (d^2 - d_nearest^2) / (2 * (20 m)^2) +
// progress_gap / 500 m, a step backwards counting double (vehicles move forward; at the turning
// point of an out-and-back the return leg wins). Without a previous progress it returns the
// nearest segment (ties: lowest progress). distance_m, segment_index, progress_m and nearest
// always describe the same chosen point.
//
// A hint (per vehicle) makes Locate try the few segments around the vehicle's previous match
// first (those within 120 m along the route, plus the parts of the route that pass within
// 150 m of them: the other leg of an out-and-back, the next pass of a loop). It answers from
// them only when a precomputed clearance proves that no other part of the route can be the
// nearest or within kAmbiguityMargin_m of it; otherwise it falls back to the grid. The answer is
// therefore always identical (bit for bit) to Locate without a hint, whatever the hint holds
// (default, stale, from another corridor); only the memory touched differs: a handful of cache
// lines instead of the grid cell and its candidates' lines, which matters when thousands of
// corridors (one per run) do not fit in the caches.
//
// Create does only what every query needs (projection, segments, R-tree, the hint's
// neighbourhoods); the candidate grid's cells are built on their first lookup (a few
// microseconds each, once), so compiling a plan does not pay for the thousands of cells no fix
// ever falls in. Answers do not depend on which cells are built: every path (cell, R-tree,
// hint) returns exactly the answer of a scan of every segment (LocateByScanForTesting).
//
// Thread contract: logically immutable after Create; Locate, PointAt and the accessors are safe
// to call from many threads at once (a Hint belongs to one caller at a time; a cell is built by
// the first thread that needs it, lock-free for the others). Movable, not copyable (share one
// instance via pointer).
#ifndef CIT_GEO_CORRIDOR_H_
#define CIT_GEO_CORRIDOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "geo/grid_projection.h"
#include "geo/lon_lat.h"

namespace cit::geo {

namespace corridor_internal {
struct SegmentRec;  // defined in corridor.cc
struct Reach;
}  // namespace corridor_internal

class Corridor final {
 public:
  struct Match {
    double distance_m;          // from the fix to the centre-line (geodesic metres)
    std::size_t segment_index;  // segment from vertices()[i] to vertices()[i + 1]
    double progress_m;          // along the route from vertices()[0] to `nearest`
    LonLat nearest;             // closest point of the centre-line
  };

  // How much farther than the nearest segment another leg may be and still win on progress
  // continuity (covers both carriageways of a road and GNSS noise).
  static constexpr double kAmbiguityMargin_m = 40.0;

  // Needs >= 2 distinct points; consecutive duplicates are allowed (zero-length segments are
  // skipped). Fails like LocalProjection::ForArea for polar or continent-sized routes.
  static absl::StatusOr<Corridor> Create(std::vector<LonLat> route);

  Corridor(Corridor&&) noexcept;
  Corridor& operator=(Corridor&&) noexcept;
  Corridor(const Corridor&) = delete;
  Corridor& operator=(const Corridor&) = delete;
  ~Corridor();

  Match Locate(LonLat p, std::optional<double> previous_progress_m = std::nullopt) const;

  // Where the previous Locate of one vehicle matched, plus a copy of the projection cell it
  // fell in. Plain data; keep one per vehicle. hits/misses count the calls answered around the
  // hint and those that needed the grid (for benchmarks and tests).
  struct Hint {
    static constexpr std::uint32_t kNone = 0xffff'ffff;
    std::uint32_t segment = kNone;
    std::uint32_t hits = 0;
    std::uint32_t misses = 0;
    GridProjection::CellCache projection;
  };
  // Identical to Locate(p, previous_progress_m); reads and updates `hint`.
  Match Locate(LonLat p, std::optional<double> previous_progress_m, Hint& hint) const;

  // Total length along the geodesic segments, metres.
  double length_m() const;
  // The centre-line point at `progress_m` (clamped to [0, length_m()]).
  LonLat PointAt(double progress_m) const;
  std::span<const LonLat> vertices() const;
  // Heap bytes held by the query structures (segments, grid, R-tree estimate, projection grid);
  // grows as cells are built.
  std::size_t memory_bytes() const;

  // Grid cells built so far, and their total number (for tests and benchmarks).
  std::size_t cells_built() const;
  std::size_t cell_count() const;
  // The definition every Locate path must reproduce bit for bit: the same choice (Locate's
  // comment) over every segment of the route, without grid, R-tree or hint. O(route) per call;
  // for tests.
  Match LocateByScanForTesting(LonLat p, std::optional<double> previous_progress_m) const;

 private:
  struct Impl;
  // What every query reads first, kept inline in the Corridor (i.e. in its owner's cache lines,
  // such as a CompiledRun's) instead of behind impl_: with thousands of corridors out of cache,
  // every pointer chased is a miss per fix. Points into *impl_, which never moves.
  struct Hot {
    GridProjection::Frame projection;
    const corridor_internal::SegmentRec* segments = nullptr;
    const corridor_internal::Reach* reach = nullptr;
    std::size_t segment_count = 0;
    const std::uint32_t* others = nullptr;
  };
  explicit Corridor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  Hot hot_;
};

}  // namespace cit::geo

#endif  // CIT_GEO_CORRIDOR_H_
