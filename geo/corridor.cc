#include "geo/corridor.h"

#include <geodesic.h>

#include <algorithm>
#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <boost/iterator/function_output_iterator.hpp>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "geo/grid_projection.h"

namespace cit::geo {
namespace {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;
using Point = bg::model::point<double, 2, bg::cs::cartesian>;
using Segment = bg::model::segment<Point>;
using Box = bg::model::box<Point>;
using Entry = std::pair<Segment, std::uint32_t>;
using RTree = bgi::rtree<Entry, bgi::rstar<16, 4>>;

// Grid margin: fixes up to this far outside the route's bounding box use the fast mapping.
constexpr double kGridMarginM = 20'000.0;
// First search radius: most fixes of a vehicle on its route are within this of the centre-line.
constexpr double kFirstRadiusM = 64.0;

const geod_geodesic& Wgs84() {
  static const geod_geodesic g = [] {
    geod_geodesic out;
    geod_init(&out, 6378137.0, 1.0 / 298.257223563);
    return out;
  }();
  return g;
}

double GeodesicDistance(LonLat a, LonLat b) {
  double s12 = 0.0;
  geod_inverse(&Wgs84(), a.lat_deg(), a.lon_deg(), b.lat_deg(), b.lon_deg(), &s12, nullptr,
               nullptr);
  return s12;
}

struct Candidate {
  std::uint32_t segment;
  double distance2;  // squared plane distance
  double t;          // position along the segment, [0, 1]
};

}  // namespace

struct Corridor::Impl {
  explicit Impl(GridProjection p) : proj(std::move(p)) {}

  GridProjection proj;
  std::vector<LonLat> vertices;
  std::vector<XY> xy;             // projected vertices (exact)
  std::vector<double> cum_m;      // geodesic progress at each vertex
  std::vector<double> segment_m;  // geodesic length of each segment
  RTree index;

  Candidate Evaluate(std::uint32_t i, XY q) const {
    const XY& a = xy[i];
    const XY& b = xy[i + 1];
    const double dx = b.x_m - a.x_m, dy = b.y_m - a.y_m;
    const double len2 = dx * dx + dy * dy;
    double t = ((q.x_m - a.x_m) * dx + (q.y_m - a.y_m) * dy) / len2;
    t = std::clamp(t, 0.0, 1.0);
    const double ex = a.x_m + t * dx - q.x_m, ey = a.y_m + t * dy - q.y_m;
    return Candidate{i, ex * ex + ey * ey, t};
  }

  double Progress(const Candidate& c) const {
    return cum_m[c.segment] + c.t * segment_m[c.segment];
  }

  // Calls fn(Candidate) for every segment meeting the square of half-size r around q.
  template <typename Fn>
  void ForEachNear(XY q, double r, Fn&& fn) const {
    const Box box(Point(q.x_m - r, q.y_m - r), Point(q.x_m + r, q.y_m + r));
    index.query(bgi::intersects(box), boost::make_function_output_iterator(
                                          [&](const Entry& e) { fn(Evaluate(e.second, q)); }));
  }

  Candidate Nearest(XY q) const {
    Candidate best{0, std::numeric_limits<double>::infinity(), 0.0};
    auto keep = [&](const Candidate& c) {
      if (c.distance2 < best.distance2 ||
          (c.distance2 == best.distance2 && c.segment < best.segment)) {
        best = c;
      }
    };
    ForEachNear(q, kFirstRadiusM, keep);
    // Any segment closer than r meets the box, so a hit within r is the global nearest.
    if (best.distance2 <= kFirstRadiusM * kFirstRadiusM) return best;
    index.query(
        bgi::nearest(Point(q.x_m, q.y_m), 1),
        boost::make_function_output_iterator([&](const Entry& e) { keep(Evaluate(e.second, q)); }));
    return best;
  }
};

Corridor::Corridor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Corridor::Corridor(Corridor&&) noexcept = default;
Corridor& Corridor::operator=(Corridor&&) noexcept = default;
Corridor::~Corridor() = default;

absl::StatusOr<Corridor> Corridor::Create(std::vector<LonLat> route) {
  std::size_t distinct = route.empty() ? 0 : 1;
  for (std::size_t i = 1; i < route.size(); ++i) {
    if (!(route[i] == route[i - 1])) ++distinct;
  }
  if (distinct < 2) {
    return absl::InvalidArgumentError("a route needs at least 2 distinct points, got " +
                                      std::to_string(route.size()) + " point(s) with " +
                                      std::to_string(distinct) + " distinct");
  }
  if (route.size() > std::numeric_limits<std::uint32_t>::max() / 2) {
    return absl::InvalidArgumentError("route has too many points");
  }
  absl::StatusOr<GridProjection> proj = GridProjection::ForArea(route, kGridMarginM);
  if (!proj.ok()) {
    return absl::InvalidArgumentError("route cannot be projected: " +
                                      std::string(proj.status().message()));
  }
  auto impl = std::make_unique<Impl>(*std::move(proj));
  impl->vertices = std::move(route);
  const auto& v = impl->vertices;
  impl->xy.reserve(v.size());
  for (const LonLat& p : v) impl->xy.push_back(impl->proj.ForwardExact(p));
  impl->cum_m.assign(v.size(), 0.0);
  impl->segment_m.assign(v.size() - 1, 0.0);
  std::vector<Entry> entries;
  entries.reserve(v.size() - 1);
  for (std::size_t i = 0; i + 1 < v.size(); ++i) {
    impl->segment_m[i] = GeodesicDistance(v[i], v[i + 1]);
    impl->cum_m[i + 1] = impl->cum_m[i] + impl->segment_m[i];
    const XY& a = impl->xy[i];
    const XY& b = impl->xy[i + 1];
    if (a.x_m == b.x_m && a.y_m == b.y_m) continue;  // zero-length: never the unique nearest
    entries.emplace_back(Segment(Point(a.x_m, a.y_m), Point(b.x_m, b.y_m)),
                         static_cast<std::uint32_t>(i));
  }
  impl->index = RTree(entries.begin(), entries.end());  // packed (STR) bulk load
  return Corridor(std::move(impl));
}

Corridor::Match Corridor::Locate(LonLat p, std::optional<double> previous_progress_m) const {
  const Impl& m = *impl_;
  const XY q = m.proj.Forward(p);
  Candidate best = m.Nearest(q);
  if (previous_progress_m.has_value() && std::isfinite(*previous_progress_m)) {
    const double limit = std::sqrt(best.distance2) + kAmbiguityMargin_m;
    const double limit2 = limit * limit;
    double best_gap = std::abs(m.Progress(best) - *previous_progress_m);
    m.ForEachNear(q, limit, [&](const Candidate& c) {
      if (c.distance2 > limit2) return;
      const double gap = std::abs(m.Progress(c) - *previous_progress_m);
      if (gap < best_gap || (gap == best_gap && c.distance2 < best.distance2)) {
        best = c;
        best_gap = gap;
      }
    });
  }
  const XY& a = m.xy[best.segment];
  const XY& b = m.xy[best.segment + 1];
  const XY on{a.x_m + best.t * (b.x_m - a.x_m), a.y_m + best.t * (b.y_m - a.y_m)};
  const double k = m.proj.ScaleFactorAt((on.x_m + q.x_m) / 2.0);
  const LonLat& va = m.vertices[best.segment];
  const LonLat& vb = m.vertices[best.segment + 1];
  double dlon = vb.lon_deg() - va.lon_deg();
  if (dlon > 180.0) dlon -= 360.0;
  if (dlon < -180.0) dlon += 360.0;
  const LonLat guess = internal::LonLatAccess::Normalised(
      va.lon_deg() + best.t * dlon, va.lat_deg() + best.t * (vb.lat_deg() - va.lat_deg()));
  return Match{std::sqrt(best.distance2) / k, best.segment, m.Progress(best),
               m.proj.Inverse(on, guess)};
}

double Corridor::length_m() const { return impl_->cum_m.back(); }

LonLat Corridor::PointAt(double progress_m) const {
  const Impl& m = *impl_;
  if (!(progress_m > 0.0)) return m.vertices.front();  // also NaN
  if (progress_m >= m.cum_m.back()) return m.vertices.back();
  const auto it = std::upper_bound(m.cum_m.begin(), m.cum_m.end(), progress_m);
  const std::size_t i = static_cast<std::size_t>(it - m.cum_m.begin()) - 1;
  const LonLat& a = m.vertices[i];
  const LonLat& b = m.vertices[i + 1];
  double azi1 = 0.0, s12 = 0.0;
  geod_inverse(&Wgs84(), a.lat_deg(), a.lon_deg(), b.lat_deg(), b.lon_deg(), &s12, &azi1, nullptr);
  double lat = 0.0, lon = 0.0;
  geod_direct(&Wgs84(), a.lat_deg(), a.lon_deg(), azi1, progress_m - m.cum_m[i], &lat, &lon,
              nullptr);
  return internal::LonLatAccess::Normalised(lon, lat);
}

std::span<const LonLat> Corridor::vertices() const { return impl_->vertices; }

}  // namespace cit::geo
