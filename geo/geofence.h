// Geofences for stops, depots and forbidden areas: circles and polygons with holes.
//
//   absl::StatusOr<CircleFence> atm = CircleFence::Create(centre, /*radius_m=*/60.0);
//   bool inside = atm->Contains(fix);
//   double d = atm->SignedDistance_m(fix);     // < 0 inside, > 0 outside
//
//   absl::StatusOr<PolygonFence> depot = PolygonFence::Create(outer_ring, {courtyard_hole});
//   if (depot->Contains(fix)) { ... }
//
// CircleFence measures geodesic distance (an ellipsoidal local plane within 10 km of the centre,
// geod_inverse beyond). PolygonFence projects its rings once into a local transverse Mercator
// (GridProjection) and tests points in that plane; edges are straight lines in that plane, which
// differ from geodesics by millimetres for edges of a few kilometres.
//
// Thread contract: immutable after Create; every const member is safe to call concurrently.
// Both types are movable; CircleFence is also copyable.
#ifndef CIT_GEO_GEOFENCE_H_
#define CIT_GEO_GEOFENCE_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "geo/lon_lat.h"

namespace cit::geo {

class CircleFence final {
 public:
  // radius_m must be finite and > 0.
  static absl::StatusOr<CircleFence> Create(LonLat centre, double radius_m);

  // Inside or on the circle. Cheap (no trigonometry) also for far points.
  bool Contains(LonLat p) const;
  // Distance from p to the circle's edge: negative inside, positive outside.
  double SignedDistance_m(LonLat p) const;
  // |SignedDistance_m(p)|.
  double DistanceToEdge_m(LonLat p) const;
  // Geodesic distance from the centre.
  double DistanceFromCentre_m(LonLat p) const;

  LonLat centre() const { return centre_; }
  double radius_m() const { return radius_m_; }

 private:
  CircleFence(LonLat centre, double radius_m);
  // Distance in the centre's local plane, or nullopt beyond 10 km on either axis.
  std::optional<double> LocalDistance(LonLat p) const;

  struct LocalPlane {
    double m, n;          // meridional and prime-vertical radii at the centre, metres
    double dln_m, dln_n;  // their logarithmic derivatives by latitude (radians)
    double sin0, cos0;    // of the centre latitude
  };
  LonLat centre_;
  double radius_m_;
  LocalPlane plane_;
};

class PolygonFence final {
 public:
  // Rings may be open or closed (first == last); each needs >= 3 distinct points. The polygon
  // must be valid (no self-intersection, holes inside the exterior and not overlapping) and fit
  // in 20 km on either axis of its local plane (it is a stop zone).
  static absl::StatusOr<PolygonFence> Create(std::vector<LonLat> exterior,
                                             std::vector<std::vector<LonLat>> holes = {});

  PolygonFence(PolygonFence&&) noexcept;
  PolygonFence& operator=(PolygonFence&&) noexcept;
  PolygonFence(const PolygonFence&) = delete;
  PolygonFence& operator=(const PolygonFence&) = delete;
  ~PolygonFence();

  // Points on an edge (within 2 cm) count as inside.
  bool Contains(LonLat p) const;
  // Distance to the nearest edge of any ring (exterior or hole), metres, always >= 0.
  double DistanceToEdge_m(LonLat p) const;
  // Negative inside, positive outside.
  double SignedDistance_m(LonLat p) const;
  // Area in square metres (exterior minus holes), in the local plane.
  double area_m2() const;

 private:
  struct Impl;
  explicit PolygonFence(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cit::geo

#endif  // CIT_GEO_GEOFENCE_H_
