#include "geo/grid_projection.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <utility>
#include <vector>

namespace cit::geo {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kTargetCellM = 500.0;
constexpr double kMaxCellM = 2000.0;
constexpr std::size_t kMaxNodes = std::size_t{1} << 18;
// Nodes are computed in blocks of 2^kBlockShift x 2^kBlockShift (8 x 8: 4 km square, 64 PROJ
// calls, ~15 us) on first use.
constexpr int kBlockShift = 3;
constexpr double kMetresPerDegLat = 110'574.0;  // shortest (at the equator): cells never exceed
constexpr double kMetresPerDegLonEquator = 111'320.0;

// Longitude relative to `centre` in (-180, 180]; cheap for inputs already in [-180, 180].
inline double Relative(double lon, double centre) {
  double r = lon - centre;
  if (r > 180.0) r -= 360.0;
  if (r <= -180.0) r += 360.0;
  return r;
}

}  // namespace

struct alignas(64) GridProjection::State {
  explicit State(LocalProjection p) : exact(std::move(p)) {}

  // What Forward reads, first (with thousands of instances in memory, every line is a miss).
  Frame f;

  LocalProjection exact;
  mutable std::mutex exact_mu;  // PROJ contexts are not re-entrant; also serialises FillBlock
  bool has_grid = false;
  double cell_lon = 1.0, cell_lat = 1.0;
  // (nx + 1) * (ny + 1) nodes, computed a block at a time on first use (FillBlock): a block's
  // nodes are written under exact_mu before its flag is set (release), read only after the flag
  // was seen set (acquire), and never written again.
  std::unique_ptr<XY[]> nodes;
  std::unique_ptr<std::atomic<std::uint8_t>[]> block_ready;
  mutable std::atomic<std::size_t> blocks_filled{0};

  XY Exact(LonLat p) const {
    std::lock_guard<std::mutex> lock(exact_mu);
    return exact.Forward(p);
  }
  LonLat ExactInverse(XY p) const {
    std::lock_guard<std::mutex> lock(exact_mu);
    return exact.Inverse(p);
  }
  const XY& Node(int i, int j) const {
    return f.node_data[static_cast<std::size_t>(j) * (f.nx + 1) + i];
  }
  // Makes cell (i, j)'s four nodes readable; reads only `frame` (this instance's, or the copy
  // an owner keeps inline) unless a block still has to be computed.
  void EnsureCell(const Frame& frame, int i, int j) const {
    for (int bj = j >> kBlockShift; bj <= (j + 1) >> kBlockShift; ++bj) {
      for (int bi = i >> kBlockShift; bi <= (i + 1) >> kBlockShift; ++bi) {
        const std::size_t b = static_cast<std::size_t>(bj) * frame.block_nx + bi;
        if (frame.block_ready[b].load(std::memory_order_acquire) == 0) FillBlock(bi, bj);
      }
    }
  }
  void FillBlock(int bi, int bj) const {
    std::lock_guard<std::mutex> lock(exact_mu);
    const std::size_t b = static_cast<std::size_t>(bj) * f.block_nx + bi;
    if (block_ready[b].load(std::memory_order_relaxed) != 0) return;  // filled meanwhile
    const int i_end = std::min(f.nx + 1, (bi + 1) << kBlockShift);
    const int j_end = std::min(f.ny + 1, (bj + 1) << kBlockShift);
    for (int j = bj << kBlockShift; j < j_end; ++j) {
      for (int i = bi << kBlockShift; i < i_end; ++i) {
        const LonLat node = internal::LonLatAccess::Normalised(f.centre_lon + f.r0 + i * cell_lon,
                                                               f.lat0 + j * cell_lat);
        nodes[static_cast<std::size_t>(j) * (f.nx + 1) + i] = exact.Forward(node);
      }
    }
    blocks_filled.fetch_add(1, std::memory_order_relaxed);
    block_ready[b].store(1, std::memory_order_release);
  }
};
namespace {
std::atomic<std::uint64_t> next_id{1};
}  // namespace

GridProjection::GridProjection(std::unique_ptr<State> state) : state_(std::move(state)) {}
GridProjection::GridProjection(GridProjection&&) noexcept = default;
GridProjection& GridProjection::operator=(GridProjection&&) noexcept = default;
GridProjection::~GridProjection() = default;

absl::StatusOr<GridProjection> GridProjection::ForArea(std::span<const LonLat> points,
                                                       double margin_m) {
  absl::StatusOr<LocalProjection> exact = LocalProjection::ForArea(points);
  if (!exact.ok()) return exact.status();
  auto s = std::make_unique<State>(*std::move(exact));
  s->f.centre_lon = s->exact.origin().lon_deg();

  double min_r = 1e9, max_r = -1e9, min_lat = 90.0, max_lat = -90.0;
  for (const LonLat& p : points) {
    const double r = Relative(p.lon_deg(), s->f.centre_lon);
    min_r = std::min(min_r, r);
    max_r = std::max(max_r, r);
    min_lat = std::min(min_lat, p.lat_deg());
    max_lat = std::max(max_lat, p.lat_deg());
  }
  margin_m = std::max(0.0, margin_m);
  min_lat = std::max(-85.0, min_lat - margin_m / kMetresPerDegLat);
  max_lat = std::min(85.0, max_lat + margin_m / kMetresPerDegLat);
  const double cos_max = std::cos(std::max(std::abs(min_lat), std::abs(max_lat)) * kPi / 180.0);
  const double metres_per_deg_lon = kMetresPerDegLonEquator * cos_max;  // smallest in the box
  min_r = std::max(-179.0, min_r - margin_m / metres_per_deg_lon);
  max_r = std::min(179.0, max_r + margin_m / metres_per_deg_lon);

  const double width_m = (max_r - min_r) * metres_per_deg_lon;
  const double height_m = (max_lat - min_lat) * kMetresPerDegLat;
  double cell_m = kTargetCellM;
  const double nodes_at_target = (width_m / cell_m + 2.0) * (height_m / cell_m + 2.0);
  if (nodes_at_target > static_cast<double>(kMaxNodes)) {
    cell_m *= std::sqrt(nodes_at_target / static_cast<double>(kMaxNodes));
  }
  if (cell_m <= kMaxCellM) {
    s->has_grid = true;
    s->f.nx = std::max(1, static_cast<int>(std::ceil(width_m / cell_m)));
    s->f.ny = std::max(1, static_cast<int>(std::ceil(height_m / cell_m)));
    s->f.r0 = min_r;
    s->f.lat0 = min_lat;
    s->cell_lon = (max_r - min_r) / s->f.nx;
    s->cell_lat = (max_lat - min_lat) / s->f.ny;
    if (s->cell_lon <= 0.0) s->cell_lon = cell_m / metres_per_deg_lon;
    if (s->cell_lat <= 0.0) s->cell_lat = cell_m / kMetresPerDegLat;
    s->f.inv_cell_lon = 1.0 / s->cell_lon;
    s->f.inv_cell_lat = 1.0 / s->cell_lat;
    // Not computed here: a route's grid has thousands of nodes (a PROJ call each, most of a
    // corridor's build time) of which a vehicle uses the few along its way.
    s->nodes =
        std::make_unique_for_overwrite<XY[]>(static_cast<std::size_t>(s->f.nx + 1) * (s->f.ny + 1));
    s->f.node_data = s->nodes.get();
    s->f.block_nx = ((s->f.nx + 1) >> kBlockShift) + 1;
    const int block_ny = ((s->f.ny + 1) >> kBlockShift) + 1;
    s->block_ready = std::make_unique<std::atomic<std::uint8_t>[]>(
        static_cast<std::size_t>(s->f.block_nx) * block_ny);
    s->f.block_ready = s->block_ready.get();
  }
  s->f.id = next_id.fetch_add(1, std::memory_order_relaxed);
  s->f.radius_m = s->exact.radius_m();
  return GridProjection(std::move(s));
}

bool GridProjection::Covers(LonLat p) const {
  const State& s = *state_;
  if (!s.has_grid) return false;
  const double u = (Relative(p.lon_deg(), s.f.centre_lon) - s.f.r0) / s.cell_lon;
  const double v = (p.lat_deg() - s.f.lat0) / s.cell_lat;
  return u >= 0.0 && v >= 0.0 && u < s.f.nx && v < s.f.ny;
}

XY GridProjection::Forward(LonLat p) const {
  const State& s = *state_;
  const double u = (Relative(p.lon_deg(), s.f.centre_lon) - s.f.r0) * s.f.inv_cell_lon;
  const double v = (p.lat_deg() - s.f.lat0) * s.f.inv_cell_lat;
  if (!(u >= 0.0 && v >= 0.0 && u < s.f.nx && v < s.f.ny)) return s.Exact(p);
  const int i = static_cast<int>(u);
  const int j = static_cast<int>(v);
  s.EnsureCell(s.f, i, j);
  const double fu = u - i, fv = v - j;
  const XY& a = s.Node(i, j);
  const XY& b = s.Node(i + 1, j);
  const XY& c = s.Node(i, j + 1);
  const XY& d = s.Node(i + 1, j + 1);
  const double w00 = (1 - fu) * (1 - fv), w10 = fu * (1 - fv), w01 = (1 - fu) * fv, w11 = fu * fv;
  return XY{w00 * a.x_m + w10 * b.x_m + w01 * c.x_m + w11 * d.x_m,
            w00 * a.y_m + w10 * b.y_m + w01 * c.y_m + w11 * d.y_m};
}

XY GridProjection::Forward(LonLat p, CellCache& cache) const {
  return Forward(p, state_->f, cache);
}

XY GridProjection::Forward(LonLat p, const Frame& f, CellCache& cache) const {
  const double u = (Relative(p.lon_deg(), f.centre_lon) - f.r0) * f.inv_cell_lon;
  const double v = (p.lat_deg() - f.lat0) * f.inv_cell_lat;
  if (!(u >= 0.0 && v >= 0.0 && u < f.nx && v < f.ny)) return state_->Exact(p);
  const int i = static_cast<int>(u);
  const int j = static_cast<int>(v);
  if (cache.owner != f.id || cache.i != i || cache.j != j) {
    state_->EnsureCell(f, i, j);
    const XY* row = f.node_data + static_cast<std::size_t>(j) * (f.nx + 1) + i;
    const XY* next_row = row + (f.nx + 1);
    cache.owner = f.id;
    cache.i = i;
    cache.j = j;
    cache.a = row[0];
    cache.b = row[1];
    cache.c = next_row[0];
    cache.d = next_row[1];
  }
  // The same arithmetic as Forward(p), on the same node values.
  const double fu = u - i, fv = v - j;
  const XY& a = cache.a;
  const XY& b = cache.b;
  const XY& c = cache.c;
  const XY& d = cache.d;
  const double w00 = (1 - fu) * (1 - fv), w10 = fu * (1 - fv), w01 = (1 - fu) * fv, w11 = fu * fv;
  return XY{w00 * a.x_m + w10 * b.x_m + w01 * c.x_m + w11 * d.x_m,
            w00 * a.y_m + w10 * b.y_m + w01 * c.y_m + w11 * d.y_m};
}

const GridProjection::Frame& GridProjection::frame() const { return state_->f; }

LonLat GridProjection::Inverse(XY target, LonLat guess) const {
  const State& s = *state_;
  if (!s.has_grid) return s.ExactInverse(target);
  double u = (Relative(guess.lon_deg(), s.f.centre_lon) - s.f.r0) / s.cell_lon;
  double v = (guess.lat_deg() - s.f.lat0) / s.cell_lat;
  // Newton on the piecewise-bilinear map; it is nearly affine per cell, so 1-3 steps suffice.
  for (int iter = 0; iter < 8; ++iter) {
    if (!(u >= 0.0 && v >= 0.0 && u < s.f.nx && v < s.f.ny)) return s.ExactInverse(target);
    const int i = static_cast<int>(u);
    const int j = static_cast<int>(v);
    s.EnsureCell(s.f, i, j);
    const double fu = u - i, fv = v - j;
    const XY& a = s.Node(i, j);
    const XY& b = s.Node(i + 1, j);
    const XY& c = s.Node(i, j + 1);
    const XY& d = s.Node(i + 1, j + 1);
    const double x = (1 - fu) * (1 - fv) * a.x_m + fu * (1 - fv) * b.x_m + (1 - fu) * fv * c.x_m +
                     fu * fv * d.x_m;
    const double y = (1 - fu) * (1 - fv) * a.y_m + fu * (1 - fv) * b.y_m + (1 - fu) * fv * c.y_m +
                     fu * fv * d.y_m;
    const double ex = target.x_m - x, ey = target.y_m - y;
    if (ex * ex + ey * ey < 1e-8) break;  // 0.1 mm
    const double xu = (1 - fv) * (b.x_m - a.x_m) + fv * (d.x_m - c.x_m);
    const double yu = (1 - fv) * (b.y_m - a.y_m) + fv * (d.y_m - c.y_m);
    const double xv = (1 - fu) * (c.x_m - a.x_m) + fu * (d.x_m - b.x_m);
    const double yv = (1 - fu) * (c.y_m - a.y_m) + fu * (d.y_m - b.y_m);
    const double det = xu * yv - xv * yu;
    u += (yv * ex - xv * ey) / det;
    v += (-yu * ex + xu * ey) / det;
  }
  if (!(u >= 0.0 && v >= 0.0 && u <= s.f.nx && v <= s.f.ny)) return s.ExactInverse(target);
  return internal::LonLatAccess::Normalised(s.f.centre_lon + s.f.r0 + u * s.cell_lon,
                                            s.f.lat0 + v * s.cell_lat);
}

LonLat GridProjection::Inverse(XY p) const {
  // Start Newton from the spherical estimate around the origin.
  const LonLat o = state_->exact.origin();
  const double lat = o.lat_deg() + p.y_m / kMetresPerDegLat;
  const double cos_lat = std::max(0.05, std::cos(std::clamp(lat, -85.0, 85.0) * kPi / 180.0));
  return Inverse(p, internal::LonLatAccess::Normalised(
                        o.lon_deg() + p.x_m / (kMetresPerDegLonEquator * cos_lat), lat));
}

XY GridProjection::ForwardExact(LonLat p) const { return state_->Exact(p); }
LonLat GridProjection::InverseExact(XY p) const { return state_->ExactInverse(p); }
double GridProjection::ScaleFactorAt(double x_m) const { return ScaleFactor(state_->f, x_m); }
LonLat GridProjection::origin() const { return state_->exact.origin(); }
std::size_t GridProjection::memory_bytes() const {
  // Nodes of the blocks computed so far (the rest is allocated but never touched).
  const std::size_t per_block = std::size_t{1} << (2 * kBlockShift);
  return sizeof(State) +
         state_->blocks_filled.load(std::memory_order_relaxed) * per_block * sizeof(XY);
}

}  // namespace cit::geo
