// LonLat validation: the edge where raw numbers become trusted positions.
#include "geo/lon_lat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

namespace cit::geo {
namespace {

// A swapped latitude and longitude is a compile error, not a run-time surprise (issue 13): only
// (Longitude, Latitude) calls Create; two doubles or the angles in the wrong order do not.
using CreateFn = decltype(&LonLat::Create);
static_assert(std::is_invocable_v<CreateFn, Longitude, Latitude>);
static_assert(!std::is_invocable_v<CreateFn, Latitude, Longitude>);
static_assert(!std::is_invocable_v<CreateFn, double, double>);
static_assert(!std::is_convertible_v<double, Latitude>);
static_assert(!std::is_convertible_v<Latitude, Longitude>);

TEST(LonLatTest, AcceptsInRangeValuesIncludingLimits) {
  for (auto [lon, lat] : {std::pair{0.0, 0.0}, {180.0, 90.0}, {-180.0, -90.0}, {8.54, 47.37}}) {
    absl::StatusOr<LonLat> p = LonLat::Create(Longitude{lon}, Latitude{lat});
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->lon_deg(), lon);
    EXPECT_EQ(p->lat_deg(), lat);
  }
}

TEST(LonLatTest, RejectsLatitude91WithMessageNamingIt) {
  absl::StatusOr<LonLat> p = LonLat::Create(Longitude{10.0}, Latitude{91.0});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(p.status().message()), "latitude 91 is outside [-90, 90]");
}

TEST(LonLatTest, RejectsLongitudeBeyond180) {
  absl::StatusOr<LonLat> p = LonLat::Create(Longitude{180.5}, Latitude{0.0});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(std::string(p.status().message()).find("longitude 180.5"), std::string::npos);
}

TEST(LonLatTest, RejectsNaNAndInfinityByName) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(std::string(LonLat::Create(Longitude{nan}, Latitude{0}).status().message()),
            "longitude is NaN");
  EXPECT_EQ(std::string(LonLat::Create(Longitude{0}, Latitude{nan}).status().message()),
            "latitude is NaN");
  EXPECT_EQ(std::string(LonLat::Create(Longitude{0}, Latitude{-inf}).status().message()),
            "latitude is -infinity");
  EXPECT_EQ(std::string(LonLat::Create(Longitude{inf}, Latitude{0}).status().message()),
            "longitude is +infinity");
}

}  // namespace
}  // namespace cit::geo
