// Plans whose stops lie far from their route are refused with a diagnosis (issue 13: swapped
// latitude/longitude in a stop or in a GeoJSON route was accepted 5,000 km away).
#include "dispatch-server/plans/stop_placement.h"

#include <gtest/gtest.h>

#include "dispatch-server/plans/run_manager.h"
#include "tests/dispatch/monitor_harness.h"

namespace cit::dispatch::test {
namespace {

absl::StatusOr<cit::v1::Run> CreateRun(const cit::v1::RunPlan& plan) {
  FakeClock clock(kT0);
  RunManager runs(nullptr, &clock);
  return runs.Create(plan, "dora");
}

// The stop's position with latitude and longitude exchanged: what a dispatcher types when
// copying "lat, lon" into a [lon, lat] field.
void SwapStop(cit::v1::Stop* s) {
  const double lat = s->position().lat_deg();
  s->mutable_position()->set_lat_deg(s->position().lon_deg());
  s->mutable_position()->set_lon_deg(lat);
}

TEST(StopPlacementTest, StopsNearTheRouteAreAccepted) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 1000, 200);  // 200 m beside the road: a depot yard
  MonitorHarness::AddStop(plan, "S2", 9000, -900);
  auto r = CreateRun(plan);
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST(StopPlacementTest, AStopWithSwappedCoordinatesIsRefusedAndSaidToBeSwapped) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 1000);
  SwapStop(MonitorHarness::AddStop(plan, "S2", 5000));
  auto r = CreateRun(plan);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("stops[1] (S2): "), std::string::npos) << msg;
  EXPECT_NE(msg.find(" km from the route (at most 1000 m"), std::string::npos) << msg;
  EXPECT_NE(msg.find("swapped coordinates?"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("stops[0]"), std::string::npos) << msg;
}

TEST(StopPlacementTest, ARouteInLatLonOrderIsNamedAsTheLikelyCulprit) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  // A GeoJSON route written [lat, lon]: every stop is far, every swapped stop would fit.
  std::string coords;
  for (const auto& p : plan.route().points()) {
    if (!coords.empty()) coords += ",";
    coords += "[" + std::to_string(p.lat_deg()) + "," + std::to_string(p.lon_deg()) + "]";
  }
  plan.mutable_route()->clear_points();
  plan.mutable_route()->set_geojson(R"({"type":"LineString","coordinates":[)" + coords + "]}");
  MonitorHarness::AddStop(plan, "S1", 1000);
  MonitorHarness::AddStop(plan, "S2", 8000);
  auto r = CreateRun(plan);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  const std::string msg(r.status().message());
  EXPECT_EQ(msg.rfind("route: every stop lies far from the route", 0), 0u) << msg;
  EXPECT_NE(msg.find("[lat, lon] order"), std::string::npos) << msg;
}

TEST(StopPlacementTest, AFarStopThatSwappingDoesNotExplainAsksToCheckTheData) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 5000, 3000);  // 3 km off a 10 km route
  auto r = CreateRun(plan);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("stops[0] (S1): 300"), std::string::npos) << msg;  // ~3,000 m
  EXPECT_NE(msg.find(" m from the route (at most 1000 m"), std::string::npos) << msg;
  EXPECT_NE(msg.find("check the stop's position and the route"), std::string::npos) << msg;
}

TEST(StopPlacementTest, ThePlanCanAllowAStopFartherAway) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 5000, 3000);
  plan.mutable_route()->set_max_stop_distance_m(5000);
  auto r = CreateRun(plan);
  EXPECT_TRUE(r.ok()) << r.status();
  plan.mutable_route()->set_max_stop_distance_m(-1);
  EXPECT_EQ(CreateRun(plan).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PlanTextTest, ControlCharactersInNamesAreRefusedNotesKeepLineBreaks) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 1000)->set_name("Branch\x07Mitte");
  plan.set_notes("two crews\nthen the vault");
  auto r = CreateRun(plan);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("stops[0].name: control character 0x07 at byte 6"),
            std::string::npos)
      << r.status();
  plan.mutable_stops(0)->set_name("Branch Mitte");
  EXPECT_TRUE(CreateRun(plan).ok());
  plan.set_notes("bell\x1b[2J");
  EXPECT_EQ(CreateRun(plan).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cit::dispatch::test
