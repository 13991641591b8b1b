#include "geo/lon_lat.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cit::geo {
namespace {

absl::Status CheckAngle(const char* name, double value, double limit) {
  if (std::isnan(value)) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is NaN"));
  }
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", value > 0 ? "+infinity" : "-infinity"));
  }
  if (value < -limit || value > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " ", value, " is outside [", -limit, ", ", limit, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LonLat> LonLat::Create(Longitude lon, Latitude lat) {
  if (absl::Status s = CheckAngle("longitude", lon.deg, 180.0); !s.ok()) return s;
  if (absl::Status s = CheckAngle("latitude", lat.deg, 90.0); !s.ok()) return s;
  return LonLat(lon.deg, lat.deg);
}

namespace internal {

LonLat LonLatAccess::Normalised(double lon_deg, double lat_deg) {
  double lon = std::remainder(lon_deg, 360.0);  // [-180, 180]
  if (lon >= 180.0) lon -= 360.0;
  return LonLat(lon, std::clamp(lat_deg, -90.0, 90.0));
}

}  // namespace internal
}  // namespace cit::geo
