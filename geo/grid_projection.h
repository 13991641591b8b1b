// A fast, thread-safe approximation of a LocalProjection over a bounded area.
//
// proj_trans costs around a microsecond per point, too slow for the rule engine's budget of one
// corridor query in well under a microsecond. GridProjection samples the exact projection once
// on a regular lon/lat grid (cells about 500 m square) covering the area plus a margin and
// interpolates bilinearly. Bilinear interpolation reproduces the transverse Mercator's
// lon*lat cross term exactly; what is left is the lon^2 term of the northing, bounded by
// w^2 tan(lat) / (8 N) = 5 mm * tan(lat) for w = 500 m cells (tests measure it against PROJ).
// Points outside the grid take the exact PROJ path (serialised by a mutex), so far-off points
// are still correct, only slower.
//
//   absl::StatusOr<GridProjection> grid = GridProjection::ForArea(route, /*margin_m=*/10'000);
//   XY xy = grid->Forward(fix);            // ~10 ns inside the grid
//   LonLat back = grid->Inverse(xy);
//   GridProjection::CellCache cache;       // one per moving object (vehicle)
//   XY same = grid->Forward(fix, cache);   // bit-identical; skips the grid's memory while the
//                                          // object stays in one cell (~500 m)
//
// The grid's nodes are computed on first use, 8 x 8 nodes (4 km square) at a time (~15 us, once):
// a route's grid has thousands of nodes, most of which no fix ever needs, and computing them all
// was most of the cost of compiling a plan. The values are the same whenever they are computed.
//
// Thread contract: after construction every const member is safe to call from many threads at
// once (a node block is computed once, under the mutex that guards the exact fallback, and
// published with release ordering; read-only after that). Movable.
#ifndef CIT_GEO_GRID_PROJECTION_H_
#define CIT_GEO_GRID_PROJECTION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "geo/local_projection.h"
#include "geo/lon_lat.h"

namespace cit::geo {

class GridProjection final {
 public:
  // Grid over the bounding box of `points` grown by `margin_m` on every side. Fails like
  // LocalProjection::ForArea. If the box is too large for a grid of <= 2^18 nodes with cells
  // of at most 2 km (area over ~1000 km across), the instance works but every call takes the exact
  // (locked) path.
  static absl::StatusOr<GridProjection> ForArea(std::span<const LonLat> points, double margin_m);

  GridProjection(GridProjection&&) noexcept;
  GridProjection& operator=(GridProjection&&) noexcept;
  GridProjection(const GridProjection&) = delete;
  GridProjection& operator=(const GridProjection&) = delete;
  ~GridProjection();

  XY Forward(LonLat p) const;

  // A copy of the four grid nodes around the last point mapped with it. One per moving object:
  // consecutive fixes of a vehicle mostly fall in the same ~500 m cell, and with thousands of
  // grids in memory (one per run) re-reading the nodes is a cache miss per fix. Any value is
  // safe (a cache made for another instance, or default, is simply refilled).
  struct CellCache {
    std::uint64_t owner = 0;  // id of the GridProjection that filled it; 0 = empty
    int i = -1, j = -1;
    XY a{}, b{}, c{}, d{};  // nodes (i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1)
  };
  // Same result as Forward(p), bit for bit.
  XY Forward(LonLat p, CellCache& cache) const;

  // What Forward and ScaleFactorAt read, as a value an owner can keep inline next to its own
  // hot data (Corridor does): Forward(p, frame(), cache) equals Forward(p) bit for bit and
  // reads this instance's memory only for the nodes of a new cell or outside the grid.
  struct Frame {
    double centre_lon = 0.0;
    // Grid in (relative longitude, latitude) degrees; nodes row-major, (nx + 1) * (ny + 1).
    double r0 = 0.0, lat0 = 0.0;
    double inv_cell_lon = 1.0, inv_cell_lat = 1.0;
    int nx = 0, ny = 0;  // 0: no grid (every point takes the exact path)
    const XY* node_data = nullptr;
    // Nodes are computed in 8 x 8 blocks on first use; block (bi, bj)'s flag is
    // block_ready[bj * block_nx + bi].
    const std::atomic<std::uint8_t>* block_ready = nullptr;
    int block_nx = 0;
    std::uint64_t id = 0;   // unique per instance (CellCache::owner)
    double radius_m = 0.0;  // LocalProjection::radius_m(), for ScaleFactor
  };
  const Frame& frame() const;
  XY Forward(LonLat p, const Frame& frame, CellCache& cache) const;
  // ScaleFactorAt from a frame (the same series as LocalProjection::ScaleFactorAt).
  static double ScaleFactor(const Frame& frame, double x_m) {
    const double u = x_m * x_m / (frame.radius_m * frame.radius_m);
    return 1.0 + u / 2.0 + u * u / 24.0;
  }
  // Inverse by Newton iteration on the grid, starting from `guess` (a nearby position).
  LonLat Inverse(XY p, LonLat guess) const;
  LonLat Inverse(XY p) const;
  // Exact PROJ forward/inverse, serialised; for construction-time work and tests.
  XY ForwardExact(LonLat p) const;
  LonLat InverseExact(XY p) const;

  // Plane-distance / geodesic-distance ratio at easting x_m.
  double ScaleFactorAt(double x_m) const;
  LonLat origin() const;
  // True when Forward(p) is served from the grid (not the exact fallback).
  bool Covers(LonLat p) const;
  // Heap bytes of the node grid's blocks computed so far.
  std::size_t memory_bytes() const;

 private:
  struct State;
  explicit GridProjection(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace cit::geo

#endif  // CIT_GEO_GRID_PROJECTION_H_
