// LonLat validation: the edge where raw numbers become trusted positions.
#include "geo/lon_lat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace cit::geo {
namespace {

TEST(LonLatTest, AcceptsInRangeValuesIncludingLimits) {
  for (auto [lon, lat] : {std::pair{0.0, 0.0}, {180.0, 90.0}, {-180.0, -90.0}, {8.54, 47.37}}) {
    absl::StatusOr<LonLat> p = LonLat::Create(lon, lat);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->lon_deg(), lon);
    EXPECT_EQ(p->lat_deg(), lat);
  }
}

TEST(LonLatTest, RejectsLatitude91WithMessageNamingIt) {
  absl::StatusOr<LonLat> p = LonLat::Create(10.0, 91.0);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(p.status().message()), "latitude 91 is outside [-90, 90]");
}

TEST(LonLatTest, RejectsLongitudeBeyond180) {
  absl::StatusOr<LonLat> p = LonLat::Create(180.5, 0.0);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(std::string(p.status().message()).find("longitude 180.5"), std::string::npos);
}

TEST(LonLatTest, RejectsNaNAndInfinityByName) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(std::string(LonLat::Create(nan, 0).status().message()), "longitude is NaN");
  EXPECT_EQ(std::string(LonLat::Create(0, nan).status().message()), "latitude is NaN");
  EXPECT_EQ(std::string(LonLat::Create(0, -inf).status().message()), "latitude is -infinity");
  EXPECT_EQ(std::string(LonLat::Create(inf, 0).status().message()), "longitude is +infinity");
}

}  // namespace
}  // namespace cit::geo
