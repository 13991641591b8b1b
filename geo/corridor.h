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
// Thread contract: immutable after Create; Locate, PointAt and the accessors are safe to call
// from many threads at once. Movable, not copyable (share one instance via pointer).
#ifndef CIT_GEO_CORRIDOR_H_
#define CIT_GEO_CORRIDOR_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "geo/lon_lat.h"

namespace cit::geo {

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

  // Total length along the geodesic segments, metres.
  double length_m() const;
  // The centre-line point at `progress_m` (clamped to [0, length_m()]).
  LonLat PointAt(double progress_m) const;
  std::span<const LonLat> vertices() const;

 private:
  struct Impl;
  explicit Corridor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cit::geo

#endif  // CIT_GEO_CORRIDOR_H_
