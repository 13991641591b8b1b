// Strong geographic types: a validated WGS84 position (LonLat) and planar metres (XY).
//
// Raw numbers from receivers, files and the wire are validated once, at the edge, into LonLat;
// code behind that edge never sees NaN, infinities or out-of-range angles.
//
//   absl::StatusOr<cit::geo::LonLat> p =
//       cit::geo::LonLat::Create(cit::geo::Longitude{8.5417}, cit::geo::Latitude{47.3769});
//   if (!p.ok()) return p.status();   // "latitude 91 is outside [-90, 90]"
//   double lat = p->lat_deg();
//
// Thread contract: immutable value types, safe to share.
#ifndef CIT_GEO_LON_LAT_H_
#define CIT_GEO_LON_LAT_H_

#include "absl/status/statusor.h"

namespace cit::geo {

namespace internal {
struct LonLatAccess;
}  // namespace internal

// The two angles as distinct types, so that a swapped latitude and longitude do not compile:
// LonLat::Create(Longitude{lon}, Latitude{lat}); two plain doubles, or a Latitude where the
// Longitude belongs, are compile errors (issue 13; tests/geo/lon_lat_test.cc).
struct Longitude {
  explicit constexpr Longitude(double degrees) : deg(degrees) {}
  double deg;
};
struct Latitude {
  explicit constexpr Latitude(double degrees) : deg(degrees) {}
  double deg;
};

// A WGS84 position in degrees: longitude in [-180, 180], latitude in [-90, 90], both finite.
class LonLat final {
 public:
  // Rejects NaN, infinities and out-of-range values with a message naming the bad value.
  static absl::StatusOr<LonLat> Create(Longitude lon, Latitude lat);

  double lon_deg() const { return lon_deg_; }
  double lat_deg() const { return lat_deg_; }

  friend bool operator==(const LonLat&, const LonLat&) = default;

 private:
  friend struct internal::LonLatAccess;
  LonLat(double lon_deg, double lat_deg) : lon_deg_(lon_deg), lat_deg_(lat_deg) {}

  double lon_deg_;
  double lat_deg_;
};

// Planar coordinates in metres in some LocalProjection (x east, y north of its origin).
struct XY {
  double x_m = 0.0;
  double y_m = 0.0;

  friend bool operator==(const XY&, const XY&) = default;
};

namespace internal {
// For library code that produced the values itself (projection inverses, interpolation):
// wraps longitude into [-180, 180) and clamps latitude; never used on external input.
struct LonLatAccess {
  static LonLat Normalised(double lon_deg, double lat_deg);
};
}  // namespace internal

}  // namespace cit::geo

#endif  // CIT_GEO_LON_LAT_H_
