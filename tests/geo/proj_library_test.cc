// PROJ loaded on first use (geo/proj_library.h): every function cit::geo calls is resolved, and
// the geodesic and projection answers are PROJ's.
#include "geo/proj_library.h"

#include <gtest/gtest.h>

#include "geo/local_projection.h"
#include "geo/lon_lat.h"

namespace cit::geo {
namespace {

TEST(ProjLibraryTest, LoadsOnceAndResolvesEveryFunction) {
  absl::StatusOr<const ProjLibrary*> first = LoadProj();
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<const ProjLibrary*> second = LoadProj();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  const ProjLibrary& p = **first;
  for (const void* fn :
       {reinterpret_cast<const void*>(p.context_create),
        reinterpret_cast<const void*>(p.context_destroy),
        reinterpret_cast<const void*>(p.log_level), reinterpret_cast<const void*>(p.create),
        reinterpret_cast<const void*>(p.destroy), reinterpret_cast<const void*>(p.context_errno),
        reinterpret_cast<const void*>(p.context_errno_string),
        reinterpret_cast<const void*>(p.trans), reinterpret_cast<const void*>(p.geodesic_init),
        reinterpret_cast<const void*>(p.geodesic_inverse),
        reinterpret_cast<const void*>(p.geodesic_direct)}) {
    EXPECT_NE(fn, nullptr);
  }
  EXPECT_EQ(&LoadedProj(), &p);
}

TEST(ProjLibraryTest, GeodesicsAreWgs84) {
  // One degree of latitude at the equator on WGS84: 110,574.389 m (Karney's tables).
  double s12 = 0, azi1 = 0;
  LoadedProj().geodesic_inverse(&Wgs84Geodesic(), 0.0, 10.0, 1.0, 10.0, &s12, &azi1, nullptr);
  EXPECT_NEAR(s12, 110'574.389, 0.01);
  EXPECT_NEAR(azi1, 0.0, 1e-9);
  // And back: 110,574.389 m north of (0, 10) is (1, 10).
  double lat = 0, lon = 0;
  LoadedProj().geodesic_direct(&Wgs84Geodesic(), 0.0, 10.0, 0.0, s12, &lat, &lon, nullptr);
  EXPECT_NEAR(lat, 1.0, 1e-9);
  EXPECT_NEAR(lon, 10.0, 1e-9);
}

TEST(ProjLibraryTest, ProjectionsMadeThroughTheLoadedLibraryRoundTrip) {
  absl::StatusOr<LonLat> origin = LonLat::Create(Longitude(8.5), Latitude(47.4));
  absl::StatusOr<LonLat> point = LonLat::Create(Longitude(8.51), Latitude(47.41));
  ASSERT_TRUE(origin.ok() && point.ok());
  absl::StatusOr<LocalProjection> proj = LocalProjection::CentredAt(*origin);
  ASSERT_TRUE(proj.ok()) << proj.status();
  const XY xy = proj->Forward(*point);
  EXPECT_GT(xy.x_m, 700);
  EXPECT_GT(xy.y_m, 1'100);
  const LonLat back = proj->Inverse(xy);
  EXPECT_NEAR(back.lon_deg(), 8.51, 1e-10);
  EXPECT_NEAR(back.lat_deg(), 47.41, 1e-10);
}

}  // namespace
}  // namespace cit::geo
