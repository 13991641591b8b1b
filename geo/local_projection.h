// A transverse Mercator projection centred on one area (a route, a fence), built with PROJ.
//
// Distances measured in this plane differ from geodesic distances by the scale factor
// k = 1 + x^2 / (2 R^2) (x = distance from the central meridian): 8e-6 at 25 km, so a 2 km
// offset is off by under 2 cm. Because the projection is centred on the area itself, UTM zone
// boundaries do not matter, and routes across the antimeridian work (longitudes are taken
// relative to the central meridian).
//
//   absl::StatusOr<LocalProjection> proj = LocalProjection::ForArea(route);
//   if (!proj.ok()) return proj.status();
//   XY xy = proj->Forward(route[0]);
//   LonLat back = proj->Inverse(xy);
//
// Limits (ForArea returns InvalidArgument beyond them): |latitude| <= 84 (polar areas are out of
// scope for cash-in-transit routes), east-west half-extent <= 1500 km.
//
// Thread contract: each instance owns one PJ_CONTEXT and one PJ. Forward/Inverse are const but
// mutate PROJ's per-context state, so one instance must not be used by two threads at once;
// create one instance per thread (or guard it). Instances are movable, not copyable.
#ifndef CIT_GEO_LOCAL_PROJECTION_H_
#define CIT_GEO_LOCAL_PROJECTION_H_

#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "geo/lon_lat.h"

struct PJconsts;  // PROJ's PJ
struct pj_ctx;    // PROJ's PJ_CONTEXT

namespace cit::geo {

struct ProjLibrary;  // geo/proj_library.h: PROJ, loaded on first use

class LocalProjection final {
 public:
  // Transverse Mercator with its origin at the centre of the points' bounding box (longitudes
  // unwrapped along the sequence, so an antimeridian crossing is handled). Needs >= 1 point.
  static absl::StatusOr<LocalProjection> ForArea(std::span<const LonLat> points);
  // Transverse Mercator with its origin at `origin` (k0 = 1, no false easting/northing).
  static absl::StatusOr<LocalProjection> CentredAt(LonLat origin);

  LocalProjection(LocalProjection&&) noexcept;
  LocalProjection& operator=(LocalProjection&&) noexcept;
  LocalProjection(const LocalProjection&) = delete;
  LocalProjection& operator=(const LocalProjection&) = delete;
  ~LocalProjection();

  // Exact (PROJ) forward and inverse. Forward of a point more than ~90 degrees of longitude from
  // the central meridian is meaningless; callers validate the area first (ForArea does).
  XY Forward(LonLat p) const;
  LonLat Inverse(XY p) const;

  LonLat origin() const { return origin_; }
  // sqrt(M N) at the origin latitude, metres: the radius in the scale factor above.
  double radius_m() const { return radius_m_; }
  // Plane-distance / geodesic-distance ratio at easting x_m (series to x^4).
  double ScaleFactorAt(double x_m) const;

 private:
  struct ContextDeleter {
    void operator()(pj_ctx* ctx) const;
  };
  struct PjDeleter {
    void operator()(PJconsts* pj) const;
  };
  LocalProjection(const ProjLibrary* proj, std::unique_ptr<pj_ctx, ContextDeleter> ctx,
                  std::unique_ptr<PJconsts, PjDeleter> pj, LonLat origin);

  const ProjLibrary* proj_;
  // Declared before pj_ so that the PJ is destroyed before its context.
  std::unique_ptr<pj_ctx, ContextDeleter> ctx_;
  std::unique_ptr<PJconsts, PjDeleter> pj_;
  LonLat origin_;
  double radius_m_;
};

}  // namespace cit::geo

#endif  // CIT_GEO_LOCAL_PROJECTION_H_
