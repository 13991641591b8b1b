// Plan files: JSON and TOML, relative times, routes through the cit::geo importers, field errors.
#include "dispatchctl/plan_file.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

using google::protobuf::util::TimeUtil;

std::chrono::system_clock::time_point Now() {
  return std::chrono::system_clock::from_time_t(1768464000);  // 2026-01-15T08:00:00Z
}

TEST(PlanFileTest, TomlPlanWithRelativeTimesAndInlinePoints) {
  auto plan = ParsePlan(R"(
run_id = "R-1"
vehicle_id = "CIT-0001"
crew_badges = ["B-1", "B-2"]
planned_start = "now+10m"
planned_end = "+2h"
[route]
points = [[8.50, 47.37], [8.52, 47.37]]
corridor_half_width_m = 80
[[stops]]
stop_id = "S1"
name = "Depot"
lat = 47.37
lon = 8.50
radius_m = 40
arrival_earliest = "-5m"
arrival_latest = "+15m"
doors_may_open = true
[limits]
max_speed_mps = 25
)",
                        ".", Now());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->run_id(), "R-1");
  EXPECT_EQ(TimeUtil::ToString(plan->planned_start()), "2026-01-15T08:10:00Z");
  EXPECT_EQ(TimeUtil::ToString(plan->planned_end()), "2026-01-15T10:10:00Z");
  ASSERT_EQ(plan->route().points_size(), 2);
  EXPECT_DOUBLE_EQ(plan->route().points(1).lon_deg(), 8.52);
  EXPECT_DOUBLE_EQ(plan->route().corridor_half_width_m(), 80);
  ASSERT_EQ(plan->stops_size(), 1);
  EXPECT_DOUBLE_EQ(plan->stops(0).position().lat_deg(), 47.37);
  EXPECT_EQ(TimeUtil::ToString(plan->stops(0).arrival_earliest()), "2026-01-15T08:05:00Z");
  EXPECT_TRUE(plan->stops(0).doors_may_open());
  EXPECT_DOUBLE_EQ(plan->limits().max_speed_mps(), 25);
}

// A typo inside [route] used to be dropped, so the default corridor applied (issue 13).
TEST(PlanFileTest, UnknownRouteKeyIsAnErrorNamingIt) {
  auto plan = ParsePlan(R"(
run_id = "R-1"
vehicle_id = "CIT-0001"
[route]
points = [[8.50, 47.37], [8.52, 47.37]]
corridor_halfwidth_m = 80
)",
                        ".", Now());
  ASSERT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("route.corridor_halfwidth_m: unknown key"),
            std::string::npos)
      << plan.status();
  auto ok = ParsePlan(R"(
run_id = "R-1"
vehicle_id = "CIT-0001"
[route]
points = [[8.50, 47.37], [8.52, 47.37]]
max_stop_distance_m = 2500
)",
                      ".", Now());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_DOUBLE_EQ(ok->route().max_stop_distance_m(), 2500);
}

TEST(PlanFileTest, JsonPlanWithGeoJsonRouteFile) {
  cit::test::TempDir dir;
  std::ofstream(dir / "route.geojson")
      << R"({"type":"Feature","geometry":{"type":"LineString",)"
      << R"("coordinates":[[8.5,47.37],[8.51,47.371],[8.52,47.372]]},"properties":{}})";
  auto plan = ParsePlan(R"({"run_id":"R-2","vehicle_id":"CIT-0002",
    "planned_start":"2026-01-15T09:00:00Z",
    "route":{"geojson_file":"route.geojson"},
    "stops":[{"stop_id":"S1","position":{"lat_deg":47.37,"lon_deg":8.5},"radius_m":30,
              "arrival_latest":"+30m"}]})",
                        dir.path(), Now());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->route().points_size(), 3);
  EXPECT_DOUBLE_EQ(plan->route().points(2).lat_deg(), 47.372);
  EXPECT_EQ(TimeUtil::ToString(plan->stops(0).arrival_latest()), "2026-01-15T09:30:00Z");
}

TEST(PlanFileTest, EncodedPolylineRoute) {
  // Google's documented example: (38.5,-120.2), (40.7,-120.95), (43.252,-126.453).
  auto plan = ParsePlan(R"({"run_id":"R-3","vehicle_id":"V",
    "route":{"polyline":"_p~iF~ps|U_ulLnnqC_mqNvxq`@"}})",
                        ".", Now());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->route().points_size(), 3);
  EXPECT_NEAR(plan->route().points(0).lat_deg(), 38.5, 1e-6);
  EXPECT_NEAR(plan->route().points(2).lon_deg(), -126.453, 1e-6);
}

TEST(PlanFileTest, ErrorsNameTheField) {
  auto two_routes = ParsePlan(
      R"({"run_id":"R","vehicle_id":"V","route":{"points":[[0,0],[1,1]],"polyline":"x"}})", ".",
      Now());
  ASSERT_FALSE(two_routes.ok());
  EXPECT_NE(two_routes.status().message().find("route"), std::string::npos);
  auto bad_time = ParsePlan(R"({"run_id":"R","vehicle_id":"V","route":{"points":[[0,0],[1,1]]},
    "stops":[{"stop_id":"S1","arrival_latest":"tomorrow"}]})",
                            ".", Now());
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.status().message().find("stops[0].arrival_latest"), std::string::npos);
  auto bad_point =
      ParsePlan(R"({"run_id":"R","vehicle_id":"V","route":{"points":[[0,0],[1,95]]}})", ".", Now());
  ASSERT_FALSE(bad_point.ok());
  EXPECT_NE(bad_point.status().message().find("route.points[1]"), std::string::npos);
  auto no_vehicle = ParsePlan(R"({"run_id":"R","route":{"points":[[0,0],[1,1]]}})", ".", Now());
  ASSERT_FALSE(no_vehicle.ok());
  EXPECT_NE(no_vehicle.status().message().find("vehicle_id"), std::string::npos);
}

// Found by tests/fuzz/plan_fuzz.cc: huge relative times overflowed int64 (UB) or reached
// protobuf's TimeUtil::SecondsToDuration, whose range CHECK aborted dispatchctl.
TEST(PlanFileTest, HugeRelativeTimesAreErrorsNotAborts) {
  const std::string route = R"("route":{"points":[[0,0],[1,1]]})";
  for (const char* end : {"+218446744073709551616h", "+99999999999h", "now+99999999999999m",
                          "-9223372036854775808s", "+1h1h1h99999999999h"}) {
    auto plan = ParsePlan(absl::StrCat(R"({"run_id":"R","vehicle_id":"V",)", route,
                                       R"(,"planned_end":")", end, R"("})"),
                          ".", Now());
    ASSERT_FALSE(plan.ok()) << end;
    EXPECT_NE(plan.status().message().find("planned_end"), std::string::npos) << plan.status();
  }
  // Within range of the offset but past year 9999 from the plan's start.
  auto late = ParsePlan(
      absl::StrCat(R"({"run_id":"R","vehicle_id":"V",)", route,
                   R"(,"planned_start":"9999-12-31T23:00:00Z",)", R"("planned_end":"+2h"})"),
      ".", Now());
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.status().message().find("planned_end: time outside"), std::string::npos)
      << late.status();
  // Long but sane offsets still work.
  auto year = ParsePlan(
      absl::StrCat(R"({"run_id":"R","vehicle_id":"V",)", route, R"(,"planned_end":"now+8760h"})"),
      ".", Now());
  ASSERT_TRUE(year.ok()) << year.status();
  EXPECT_EQ(TimeUtil::ToString(year->planned_end()), "2027-01-15T08:00:00Z");
}

// Found by tests/fuzz/plan_fuzz.cc: values of the wrong type made nlohmann::json throw out of
// ParsePlan, and dispatchctl terminated.
TEST(PlanFileTest, WrongValueTypesAreErrorsNotExceptions) {
  auto lat = ParsePlan(R"(run_id = "R"
vehicle_id = "V"
[route]
points = [[0, 0], [1, 1]]
[[stops]]
stop_id = "S1"
lat = true
lon = 1.0
)",
                       ".", Now());
  ASSERT_FALSE(lat.ok());
  EXPECT_EQ(lat.status().message(), "stops[0].lat: must be a number");
  auto precision = ParsePlan(
      R"({"run_id":"R","vehicle_id":"V","route":{"polyline":"_p~iF~ps|U","polyline_precision":"5"}})",
      ".", Now());
  ASSERT_FALSE(precision.ok());
  EXPECT_NE(precision.status().message().find("plan: "), std::string::npos) << precision.status();
}

// Issue 13: a misspelt key anywhere (not only in [route]) is refused with its path, and the
// key that was probably meant.
TEST(PlanFileTest, UnknownKeysAnywhereAreErrorsNamingThePathAndTheKeyMeant) {
  const std::string head = R"(
run_id = "R-1"
vehicle_id = "CIT-0001"
[route]
points = [[8.50, 47.37], [8.52, 47.37]]
)";
  auto stop = ParsePlan(head + R"(
[[stops]]
stop_id = "S1"
lat = 47.37
lon = 8.50
radius_m = 50
[[stops]]
stop_id = "S2"
lat = 47.37
lon = 8.52
radius_m = 50
arival_latest = "+1h"
)",
                        ".", Now());
  ASSERT_EQ(stop.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(stop.status().message().find(
                "stops[1].arival_latest: unknown key (did you mean arrival_latest?)"),
            std::string::npos)
      << stop.status();
  auto limits = ParsePlan(head + "[limits]\nmax_sped_mps = 20\n", ".", Now());
  EXPECT_NE(limits.status().message().find("limits.max_sped_mps: unknown key (did you mean "
                                           "max_speed_mps?)"),
            std::string::npos)
      << limits.status();
  auto top = ParsePlan("vehicel_id = \"X\"\n" + head.substr(1), ".", Now());
  EXPECT_NE(top.status().message().find("vehicel_id: unknown key (did you mean vehicle_id?)"),
            std::string::npos)
      << top.status();
  // lowerCamelCase JSON names are keys too.
  auto camel = ParsePlan(head + "[limits]\nmaxSpeedMps = 0\n", ".", Now());
  ASSERT_TRUE(camel.ok()) << camel.status();
  EXPECT_TRUE(camel->limits().has_max_speed_mps()) << "a set 0 must stay set (no speed limit)";
}

TEST(PlanFileTest, WarnsAboutEachStopWithoutAWindowNamingIt) {
  auto plan = ParsePlan(R"(
run_id = "R-1"
vehicle_id = "CIT-0001"
[route]
points = [[8.50, 47.37], [8.52, 47.37]]
[[stops]]
stop_id = "S1"
name = "Depot"
lat = 47.37
lon = 8.50
radius_m = 50
arrival_latest = "2026-01-15T09:00:00Z"
[[stops]]
stop_id = "S2"
name = "ATM Bahnhof"
lat = 47.37
lon = 8.52
radius_m = 50
)",
                        ".", Now());
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::vector<std::string> w = PlanWarnings(*plan);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("stops[1] S2 \"ATM Bahnhof\": no arrival window"), std::string::npos) << w[0];
}

}  // namespace
}  // namespace cit::ctl
