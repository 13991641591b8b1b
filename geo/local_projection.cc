#include "geo/local_projection.h"

#include <proj.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "geo/proj_library.h"

namespace cit::geo {
namespace {

constexpr double kMaxAbsLatDeg = 84.0;
constexpr double kMaxHalfExtentM = 1'500'000.0;
constexpr double kWgs84A = 6378137.0;
constexpr double kWgs84F = 1.0 / 298.257223563;
constexpr double kPi = 3.14159265358979323846;

double Wrap180(double deg) {
  double d = std::remainder(deg, 360.0);
  return d >= 180.0 ? d - 360.0 : d;
}

PJ_COORD Coord(double a, double b) {
  PJ_COORD c;
  c.v[0] = a;
  c.v[1] = b;
  c.v[2] = 0.0;
  c.v[3] = 0.0;
  return c;
}

// Geometric mean of the meridional (M) and prime-vertical (N) radii of curvature at lat.
double GaussianRadius(double lat_deg) {
  const double e2 = kWgs84F * (2.0 - kWgs84F);
  const double s = std::sin(lat_deg * kPi / 180.0);
  const double w2 = 1.0 - e2 * s * s;
  const double n = kWgs84A / std::sqrt(w2);
  const double m = kWgs84A * (1.0 - e2) / (w2 * std::sqrt(w2));
  return std::sqrt(m * n);
}

}  // namespace

void LocalProjection::ContextDeleter::operator()(pj_ctx* ctx) const {
  LoadedProj().context_destroy(ctx);
}
void LocalProjection::PjDeleter::operator()(PJconsts* pj) const { LoadedProj().destroy(pj); }

LocalProjection::LocalProjection(const ProjLibrary* proj,
                                 std::unique_ptr<pj_ctx, ContextDeleter> ctx,
                                 std::unique_ptr<PJconsts, PjDeleter> pj, LonLat origin)
    : proj_(proj),
      ctx_(std::move(ctx)),
      pj_(std::move(pj)),
      origin_(origin),
      radius_m_(GaussianRadius(origin.lat_deg())) {}

LocalProjection::LocalProjection(LocalProjection&&) noexcept = default;
LocalProjection& LocalProjection::operator=(LocalProjection&&) noexcept = default;
LocalProjection::~LocalProjection() = default;

absl::StatusOr<LocalProjection> LocalProjection::CentredAt(LonLat origin) {
  if (std::abs(origin.lat_deg()) > kMaxAbsLatDeg) {
    return absl::InvalidArgumentError(absl::StrCat(
        "latitude ", origin.lat_deg(), " is beyond +-84: polar areas are not supported"));
  }
  absl::StatusOr<const ProjLibrary*> loaded = LoadProj();
  if (!loaded.ok()) return loaded.status();
  const ProjLibrary& proj = **loaded;
  std::unique_ptr<pj_ctx, ContextDeleter> ctx(proj.context_create());
  if (ctx == nullptr) return absl::InternalError("proj_context_create failed");
  proj.log_level(ctx.get(), PJ_LOG_NONE);
  // unitconvert lets Forward/Inverse work in degrees; tmerc is PROJ's exact (Poder/Engsager)
  // transverse Mercator, accurate to millimetres thousands of kilometres from the meridian.
  const std::string definition = absl::StrFormat(
      "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
      "+step +proj=tmerc +lat_0=%.12f +lon_0=%.12f +k_0=1 +x_0=0 +y_0=0 +ellps=WGS84",
      origin.lat_deg(), origin.lon_deg());
  std::unique_ptr<PJconsts, PjDeleter> pj(proj.create(ctx.get(), definition.c_str()));
  if (pj == nullptr) {
    const int err = proj.context_errno(ctx.get());
    return absl::InternalError(absl::StrCat("PROJ rejected '", definition,
                                            "': ", proj.context_errno_string(ctx.get(), err)));
  }
  return LocalProjection(&proj, std::move(ctx), std::move(pj), origin);
}

absl::StatusOr<LocalProjection> LocalProjection::ForArea(std::span<const LonLat> points) {
  if (points.empty()) {
    return absl::InvalidArgumentError("cannot centre a projection on an empty set of points");
  }
  // Unwrap longitudes along the sequence so that 179.9 -> -179.9 continues to 180.1.
  double lon = points[0].lon_deg();
  double min_lon = lon, max_lon = lon;
  double min_lat = points[0].lat_deg(), max_lat = min_lat;
  for (std::size_t i = 1; i < points.size(); ++i) {
    lon += Wrap180(points[i].lon_deg() - points[i - 1].lon_deg());
    min_lon = std::min(min_lon, lon);
    max_lon = std::max(max_lon, lon);
    min_lat = std::min(min_lat, points[i].lat_deg());
    max_lat = std::max(max_lat, points[i].lat_deg());
  }
  if (std::max(std::abs(min_lat), std::abs(max_lat)) > kMaxAbsLatDeg) {
    return absl::InvalidArgumentError(absl::StrCat(
        "area reaches latitude ", std::abs(min_lat) > std::abs(max_lat) ? min_lat : max_lat,
        ": polar areas (beyond +-84) are not supported"));
  }
  const double lat_closest_to_equator =
      (min_lat <= 0.0 && max_lat >= 0.0) ? 0.0 : std::min(std::abs(min_lat), std::abs(max_lat));
  const double half_extent_m = (max_lon - min_lon) / 2.0 * kPi / 180.0 * kWgs84A *
                               std::cos(lat_closest_to_equator * kPi / 180.0);
  if (max_lon - min_lon >= 180.0 || half_extent_m > kMaxHalfExtentM) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "area spans %.1f degrees of longitude (%.0f km east-west); one local transverse Mercator "
        "supports at most %.0f km",
        max_lon - min_lon, 2.0 * half_extent_m / 1000.0, 2.0 * kMaxHalfExtentM / 1000.0));
  }
  return CentredAt(
      internal::LonLatAccess::Normalised((min_lon + max_lon) / 2.0, (min_lat + max_lat) / 2.0));
}

XY LocalProjection::Forward(LonLat p) const {
  // Longitude relative to the central meridian, so both sides of the antimeridian are close.
  const double lon = origin_.lon_deg() + Wrap180(p.lon_deg() - origin_.lon_deg());
  PJ_COORD out = proj_->trans(pj_.get(), PJ_FWD, Coord(lon, p.lat_deg()));
  return XY{out.xy.x, out.xy.y};
}

LonLat LocalProjection::Inverse(XY p) const {
  PJ_COORD out = proj_->trans(pj_.get(), PJ_INV, Coord(p.x_m, p.y_m));
  return internal::LonLatAccess::Normalised(out.lp.lam, out.lp.phi);
}

double LocalProjection::ScaleFactorAt(double x_m) const {
  const double u = x_m * x_m / (radius_m_ * radius_m_);
  return 1.0 + u / 2.0 + u * u / 24.0;
}

}  // namespace cit::geo
