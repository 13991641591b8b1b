#include "geo/geofence.h"

#include <algorithm>
#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <boost/iterator/function_output_iterator.hpp>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "geo/grid_projection.h"
#include "geo/proj_library.h"

namespace cit::geo {
namespace {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;
using Point = bg::model::point<double, 2, bg::cs::cartesian>;
using Segment = bg::model::segment<Point>;
using Polygon = bg::model::polygon<Point>;  // clockwise, closed
using Entry = std::pair<Segment, std::uint32_t>;
using RTree = bgi::rtree<Entry, bgi::rstar<16, 4>>;

constexpr double kPi = 3.14159265358979323846;
constexpr double kWgs84A = 6378137.0;
constexpr double kWgs84F = 1.0 / 298.257223563;
// Beyond this the local-plane circle distance loses centimetres; use the geodesic.
constexpr double kLocalPlaneLimitM = 10'000.0;
// Projection grid margin around a polygon: containment answers "no" fast farther out anyway.
constexpr double kPolygonGridMarginM = 5'000.0;
// A polygon is a stop zone (a depot yard, a branch's street front): one wider than this is a
// typo (swapped lat/lon, a point in the wrong hemisphere). Bounded also because Boost.Geometry's
// validity check overflows a 64-bit integer on rings thousands of kilometres apart (UBSan in
// boost/geometry/arithmetic/determinant.hpp, found by fuzz.alert_place).
constexpr double kMaxPolygonExtentM = 20'000.0;
// Points this close to a polygon edge count as on it (inside).
constexpr double kOnEdgeM = 0.02;

// Drops a closing point equal to the first and consecutive duplicates; counts what is left.
std::vector<LonLat> OpenRing(std::vector<LonLat> ring) {
  std::vector<LonLat> out;
  out.reserve(ring.size());
  for (const LonLat& p : ring) {
    if (out.empty() || !(out.back() == p)) out.push_back(p);
  }
  while (out.size() > 1 && out.front() == out.back()) out.pop_back();
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
CircleFence::CircleFence(LonLat centre, double radius_m) : centre_(centre), radius_m_(radius_m) {
  const double e2 = kWgs84F * (2.0 - kWgs84F);
  const double phi = centre.lat_deg() * kPi / 180.0;
  const double s = std::sin(phi), c = std::cos(phi);
  const double w2 = 1.0 - e2 * s * s;
  plane_.m = kWgs84A * (1.0 - e2) / (w2 * std::sqrt(w2));
  plane_.n = kWgs84A / std::sqrt(w2);
  plane_.dln_m = 3.0 * e2 * s * c / w2;  // d(ln M)/d(lat)
  plane_.dln_n = e2 * s * c / w2;        // d(ln N)/d(lat)
  plane_.sin0 = s;
  plane_.cos0 = c;
}

absl::StatusOr<CircleFence> CircleFence::Create(LonLat centre, double radius_m) {
  if (!std::isfinite(radius_m) || radius_m <= 0.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("circle radius must be finite and > 0 m, got ", radius_m));
  }
  return CircleFence(centre, radius_m);
}

// Mid-latitude plane: radii of curvature and cos(latitude) taken at the mid latitude by
// first/third-order series around the centre (no trigonometry per call). Within 10 km this
// agrees with geod_inverse to a few millimetres (tests check it); beyond, geod_inverse.
std::optional<double> CircleFence::LocalDistance(LonLat p) const {
  double dlon = p.lon_deg() - centre_.lon_deg();
  if (dlon > 180.0) dlon -= 360.0;
  if (dlon < -180.0) dlon += 360.0;
  const double dphi = (p.lat_deg() - centre_.lat_deg()) * kPi / 180.0;
  const double h = dphi / 2.0;
  const double cos_mid = plane_.cos0 * (1.0 - h * h / 2.0) - plane_.sin0 * (h - h * h * h / 6.0);
  const double dy = plane_.m * (1.0 + plane_.dln_m * h) * dphi;
  const double dx = plane_.n * (1.0 + plane_.dln_n * h) * cos_mid * dlon * kPi / 180.0;
  if (std::abs(dx) > kLocalPlaneLimitM || std::abs(dy) > kLocalPlaneLimitM) return std::nullopt;
  return std::sqrt(dx * dx + dy * dy);
}

double CircleFence::DistanceFromCentre_m(LonLat p) const {
  if (std::optional<double> d = LocalDistance(p)) return *d;
  double s12 = 0.0;
  LoadedProj().geodesic_inverse(&Wgs84Geodesic(), centre_.lat_deg(), centre_.lon_deg(), p.lat_deg(),
                                p.lon_deg(), &s12, nullptr, nullptr);
  return s12;
}

bool CircleFence::Contains(LonLat p) const {
  if (std::optional<double> d = LocalDistance(p)) return *d <= radius_m_;
  // Beyond the local plane the point is > 10 km away; only huge circles need the geodesic.
  return radius_m_ >= kLocalPlaneLimitM && DistanceFromCentre_m(p) <= radius_m_;
}

double CircleFence::SignedDistance_m(LonLat p) const { return DistanceFromCentre_m(p) - radius_m_; }

double CircleFence::DistanceToEdge_m(LonLat p) const { return std::abs(SignedDistance_m(p)); }

// ---------------------------------------------------------------------------------------------
struct PolygonFence::Impl {
  explicit Impl(GridProjection p) : proj(std::move(p)) {}

  GridProjection proj;
  std::vector<std::pair<XY, XY>> edges;  // all rings
  RTree index;                           // edges, for distances
  // Horizontal slabs over [y_min, y_max]; each lists the edges whose y-range meets it, so a
  // containment test scans ~edges/slabs edges instead of all of them.
  double y_min = 0.0, y_max = 0.0, slab_h = 1.0;
  std::vector<std::uint32_t> slab_start;  // size slabs + 1, into slab_edges
  std::vector<std::uint32_t> slab_edges;
  double area_m2 = 0.0;

  bool Contains(XY q) const {
    if (!(q.y_m >= y_min - kOnEdgeM && q.y_m <= y_max + kOnEdgeM)) return false;
    std::size_t s = static_cast<std::size_t>((std::clamp(q.y_m, y_min, y_max) - y_min) / slab_h);
    s = std::min(s, slab_start.size() - 2);
    bool inside = false;
    for (std::uint32_t k = slab_start[s]; k < slab_start[s + 1]; ++k) {
      const auto& [a, b] = edges[slab_edges[k]];
      // On the edge (within kOnEdgeM: the grid mapping and the chord-vs-geodesic difference
      // are millimetres): inside by definition.
      if (q.x_m >= std::min(a.x_m, b.x_m) - kOnEdgeM &&
          q.x_m <= std::max(a.x_m, b.x_m) + kOnEdgeM) {
        const double dx = b.x_m - a.x_m, dy = b.y_m - a.y_m;
        const double t = std::clamp(
            ((q.x_m - a.x_m) * dx + (q.y_m - a.y_m) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
        const double ex = a.x_m + t * dx - q.x_m, ey = a.y_m + t * dy - q.y_m;
        if (ex * ex + ey * ey <= kOnEdgeM * kOnEdgeM) return true;
      }
      if ((a.y_m > q.y_m) != (b.y_m > q.y_m)) {
        const double x_at = a.x_m + (q.y_m - a.y_m) * (b.x_m - a.x_m) / (b.y_m - a.y_m);
        if (q.x_m < x_at) inside = !inside;
      }
    }
    return inside;
  }

  double Distance(XY q) const {
    double best = std::numeric_limits<double>::infinity();
    index.query(bgi::nearest(Point(q.x_m, q.y_m), 1),
                boost::make_function_output_iterator(
                    [&](const Entry& e) { best = bg::distance(Point(q.x_m, q.y_m), e.first); }));
    return best;
  }
};

PolygonFence::PolygonFence(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PolygonFence::PolygonFence(PolygonFence&&) noexcept = default;
PolygonFence& PolygonFence::operator=(PolygonFence&&) noexcept = default;
PolygonFence::~PolygonFence() = default;

absl::StatusOr<PolygonFence> PolygonFence::Create(std::vector<LonLat> exterior,
                                                  std::vector<std::vector<LonLat>> holes) {
  std::vector<std::vector<LonLat>> rings;
  rings.push_back(OpenRing(std::move(exterior)));
  for (auto& h : holes) rings.push_back(OpenRing(std::move(h)));
  for (std::size_t r = 0; r < rings.size(); ++r) {
    if (rings[r].size() < 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(r == 0 ? std::string("exterior ring") : absl::StrCat("hole ", r - 1),
                       " has ", rings[r].size(), " distinct point(s); a ring needs at least 3"));
    }
  }
  std::vector<LonLat> all;
  for (const auto& ring : rings) all.insert(all.end(), ring.begin(), ring.end());
  absl::StatusOr<GridProjection> proj = GridProjection::ForArea(all, kPolygonGridMarginM);
  if (!proj.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("polygon cannot be projected: ", proj.status().message()));
  }
  auto impl = std::make_unique<Impl>(*std::move(proj));

  Polygon poly;
  std::vector<std::vector<XY>> xy_rings;
  for (std::size_t r = 0; r < rings.size(); ++r) {
    std::vector<XY> xy;
    for (const LonLat& p : rings[r]) xy.push_back(impl->proj.ForwardExact(p));
    auto& target = r == 0 ? poly.outer() : (poly.inners().emplace_back(), poly.inners().back());
    for (const XY& p : xy) target.emplace_back(p.x_m, p.y_m);
    target.emplace_back(xy.front().x_m, xy.front().y_m);
    xy_rings.push_back(std::move(xy));
  }
  // Every ring's points (a polygon's envelope covers only its exterior).
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_lo = x_min, y_hi = -x_min;
  for (const auto& xy : xy_rings) {
    for (const XY& p : xy) {
      x_min = std::min(x_min, p.x_m);
      x_max = std::max(x_max, p.x_m);
      y_lo = std::min(y_lo, p.y_m);
      y_hi = std::max(y_hi, p.y_m);
    }
  }
  const double extent_m = std::max(x_max - x_min, y_hi - y_lo);
  if (!(extent_m <= kMaxPolygonExtentM)) {
    return absl::InvalidArgumentError(
        absl::StrCat("polygon spans ", static_cast<int64_t>(extent_m / 1000),
                     " km; a zone must fit in ", kMaxPolygonExtentM / 1000,
                     " km (latitude and longitude swapped, or a point far "
                     "from the others?)"));
  }
  bg::correct(poly);  // orientation only; validity is checked next
  std::string why;
  if (!bg::is_valid(poly, why)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid polygon: ", why));
  }
  impl->area_m2 = std::abs(bg::area(poly));

  std::vector<Entry> entries;
  double y_min = std::numeric_limits<double>::infinity(), y_max = -y_min;
  for (const auto& xy : xy_rings) {
    for (std::size_t i = 0; i < xy.size(); ++i) {
      const XY& a = xy[i];
      const XY& b = xy[(i + 1) % xy.size()];
      entries.emplace_back(Segment(Point(a.x_m, a.y_m), Point(b.x_m, b.y_m)),
                           static_cast<std::uint32_t>(impl->edges.size()));
      impl->edges.emplace_back(a, b);
      y_min = std::min(y_min, a.y_m);
      y_max = std::max(y_max, a.y_m);
    }
  }
  impl->index = RTree(entries.begin(), entries.end());

  const std::size_t slabs = std::clamp<std::size_t>(impl->edges.size() / 2, 1, 8192);
  impl->y_min = y_min;
  impl->y_max = y_max;
  impl->slab_h = std::max((y_max - y_min) / static_cast<double>(slabs), 1e-9);
  std::vector<std::vector<std::uint32_t>> buckets(slabs);
  for (std::uint32_t e = 0; e < impl->edges.size(); ++e) {
    const auto& [a, b] = impl->edges[e];
    const auto slab_of = [&](double y) {
      return std::min(static_cast<std::size_t>((y - y_min) / impl->slab_h), slabs - 1);
    };
    // Grown by kOnEdgeM so that the on-edge test also sees edges just beyond the slab.
    const std::size_t lo = slab_of(std::max(y_min, std::min(a.y_m, b.y_m) - kOnEdgeM));
    const std::size_t hi = slab_of(std::min(y_max, std::max(a.y_m, b.y_m) + kOnEdgeM));
    for (std::size_t s = lo; s <= hi; ++s) buckets[s].push_back(e);
  }
  impl->slab_start.push_back(0);
  for (const auto& bucket : buckets) {
    impl->slab_edges.insert(impl->slab_edges.end(), bucket.begin(), bucket.end());
    impl->slab_start.push_back(static_cast<std::uint32_t>(impl->slab_edges.size()));
  }
  return PolygonFence(std::move(impl));
}

bool PolygonFence::Contains(LonLat p) const { return impl_->Contains(impl_->proj.Forward(p)); }

double PolygonFence::DistanceToEdge_m(LonLat p) const {
  const XY q = impl_->proj.Forward(p);
  return impl_->Distance(q) / impl_->proj.ScaleFactorAt(q.x_m);
}

double PolygonFence::SignedDistance_m(LonLat p) const {
  const XY q = impl_->proj.Forward(p);
  const double d = impl_->Distance(q) / impl_->proj.ScaleFactorAt(q.x_m);
  return impl_->Contains(q) ? -d : d;
}

double PolygonFence::area_m2() const { return impl_->area_m2; }

}  // namespace cit::geo
