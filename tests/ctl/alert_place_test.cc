// An alert's place in its run's terms (dispatchctl/alert_place.h): the nearest stop zone and
// its distance, progress along the route, off-route distance, and the per-run plan cache. The
// plan is the audit scenario's (tests/ctl/scenario.h): a 2 km route due east, stops at 0, 1 and
// 2 km with 50 m zones, a 100 m corridor half-width.
#include "dispatchctl/alert_place.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dispatchctl/alert_board.h"
#include "dispatchctl/format.h"
#include "tests/ctl/scenario.h"

namespace cit::ctl {
namespace {

namespace sc = cit::test::scenario;
using ::testing::HasSubstr;

// x metres east of the route start, y metres north of the route.
geo::LonLat At(double x_m, double y_m) {
  return *geo::LonLat::Create(geo::Longitude{sc::kLon0 + x_m * sc::LonPerM()},
                              geo::Latitude{sc::kLat + y_m * sc::LatPerM()});
}

cit::v1::Alert AlertAt(double x_m, double y_m, uint32_t plan_version = 0) {
  cit::v1::Alert a;
  a.set_alert_id(7);
  a.set_vehicle_id(sc::kVehicle);
  a.set_run_id(sc::kRun);
  a.set_kind(cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP);
  a.set_severity(cit::v1::SEVERITY_CRITICAL);
  a.set_plan_version(plan_version);
  a.mutable_position()->set_lat_deg(sc::kLat + y_m * sc::LatPerM());
  a.mutable_position()->set_lon_deg(sc::kLon0 + x_m * sc::LonPerM());
  return a;
}

TEST(AlertPlaceTest, NearestStopZoneProgressAndOffRouteDistance) {
  absl::StatusOr<RunGeometry> run = RunGeometry::FromPlan(sc::MakeRun().plan());
  ASSERT_TRUE(run.ok()) << run.status();

  // Just out of the depot's 50 m zone, on the route.
  PlanPlace p = run->Locate(At(100, 0));
  EXPECT_EQ(p.stop_id, "S1");
  EXPECT_FALSE(p.in_stop);
  EXPECT_NEAR(p.stop_distance_m, 50.2, 0.5);  // the scenario's metres are spherical: 0.16 % short
  EXPECT_NEAR(p.progress_m, 100.2, 0.5);
  EXPECT_NEAR(p.route_length_m, 2003.2, 1.0);
  EXPECT_NEAR(p.off_route_m, 0, 0.01);
  EXPECT_EQ(DescribePlace(p), "50 m from S1 Depot Zurich, 0.1 of 2.0 km along the route");

  // The scenario's door alert: 400 m east and 330 m north, beyond the 100 m half-width.
  p = run->Locate(At(400, 330));
  EXPECT_EQ(p.stop_id, "S1");
  EXPECT_NEAR(p.stop_distance_m, std::hypot(400.6, 330.1) - 50, 1.0);
  EXPECT_NEAR(p.off_route_m, 330.1, 0.5);
  EXPECT_EQ(DescribePlace(p),
            "470 m from S1 Depot Zurich, 0.4 of 2.0 km along the route, 330 m off route");

  // Inside the branch's zone.
  p = run->Locate(At(1020, 10));
  EXPECT_TRUE(p.in_stop);
  EXPECT_EQ(p.stop_distance_m, 0);
  EXPECT_EQ(DescribePlace(p), "at S2 Branch Bahnhofstrasse, 1.0 of 2.0 km along the route");

  // Nearer the ATM than the branch: the nearest stop is not the next one in the plan.
  p = run->Locate(At(1700, 0));
  EXPECT_EQ(DescribePlace(p), "250 m from S3 ATM Paradeplatz, 1.7 of 2.0 km along the route");
}

TEST(AlertPlaceTest, PolygonStopsAreMeasuredToTheirEdge) {
  cit::v1::RunPlan plan = sc::MakeRun().plan();
  // S2 becomes a 100 m x 100 m square centred on the route at 1 km.
  cit::v1::Stop* s2 = plan.mutable_stops(1);
  for (auto [x, y] :
       std::vector<std::pair<double, double>>{{950, -50}, {1050, -50}, {1050, 50}, {950, 50}}) {
    *s2->mutable_polygon()->add_exterior() =
        test::Pos(sc::kLat + y * sc::LatPerM(), sc::kLon0 + x * sc::LonPerM());
  }
  absl::StatusOr<RunGeometry> run = RunGeometry::FromPlan(plan);
  ASSERT_TRUE(run.ok()) << run.status();
  const PlanPlace p = run->Locate(At(1000, 250));  // 200 m north of the square's north edge
  EXPECT_EQ(p.stop_id, "S2");
  EXPECT_NEAR(p.stop_distance_m, 200, 1.0);
  EXPECT_EQ(DescribePlace(p),
            "200 m from S2 Branch Bahnhofstrasse, 1.0 of 2.0 km along the route, 250 m off route");
}

TEST(AlertPlaceTest, DistancesAreRoundedForPeople) {
  EXPECT_EQ(DistanceText(0), "0 m");
  EXPECT_EQ(DistanceText(8.4), "8 m");
  EXPECT_EQ(DistanceText(99.4), "99 m");
  EXPECT_EQ(DistanceText(468.6), "470 m");
  EXPECT_EQ(DistanceText(994), "990 m");
  EXPECT_EQ(DistanceText(996), "1.0 km");
  EXPECT_EQ(DistanceText(14'349), "14.3 km");
}

TEST(AlertPlaceTest, APlanThatCannotBeMeasuredIsRefusedNamingThePart) {
  cit::v1::RunPlan plan = sc::MakeRun().plan();
  plan.mutable_route()->mutable_points()->DeleteSubrange(1, 2);
  absl::StatusOr<RunGeometry> one_point = RunGeometry::FromPlan(plan);
  ASSERT_FALSE(one_point.ok());
  EXPECT_THAT(one_point.status().message(), HasSubstr("route"));

  plan = sc::MakeRun().plan();
  plan.mutable_stops(2)->mutable_position()->set_lat_deg(91);
  absl::StatusOr<RunGeometry> bad_stop = RunGeometry::FromPlan(plan);
  ASSERT_FALSE(bad_stop.ok());
  EXPECT_THAT(bad_stop.status().message(), HasSubstr("stops[2] (S3).position"));
  EXPECT_THAT(bad_stop.status().message(), HasSubstr("latitude 91"));
}

// A fetcher over a fixed set of plan versions, counting its calls.
struct FakePlans {
  std::vector<std::pair<std::string, uint32_t>> asked;
  absl::StatusOr<cit::v1::Run> operator()(const std::string& run_id, uint32_t version) {
    asked.emplace_back(run_id, version);
    if (run_id != sc::kRun) return absl::NotFoundError("run " + run_id);
    cit::v1::Run run = sc::MakeRun();
    if (version == 1) {
      // Version 1 had the route 1 km longer (to 3 km).
      *run.mutable_plan()->mutable_route()->add_points() =
          test::Pos(sc::kLat, sc::kLon0 + 3000 * sc::LonPerM());
      run.set_version(1);
    }
    return run;
  }
};

TEST(AlertPlaceTest, FinderReadsEachRunVersionOnceAndUsesTheAlertsPlanVersion) {
  FakePlans plans;
  std::vector<std::string> errors;
  PlaceFinder finder([&](const std::string& r, uint32_t v) { return plans(r, v); },
                     [&](const std::string& m) { errors.push_back(m); });
  EXPECT_EQ(finder.Describe(AlertAt(100, 0)),
            "50 m from S1 Depot Zurich, 0.1 of 2.0 km along the route");
  EXPECT_EQ(finder.Describe(AlertAt(1700, 0)),
            "250 m from S3 ATM Paradeplatz, 1.7 of 2.0 km along the route");
  EXPECT_EQ(finder.fetches(), 1);
  // Raised under plan version 1: measured against that version's route.
  EXPECT_EQ(finder.Describe(AlertAt(1700, 0, /*plan_version=*/1)),
            "250 m from S3 ATM Paradeplatz, 1.7 of 3.0 km along the route");
  EXPECT_EQ(finder.fetches(), 2);
  ASSERT_EQ(plans.asked.size(), 2u);
  EXPECT_EQ(plans.asked[1].second, 1u);

  // No run or no position: nothing to measure, nothing fetched.
  cit::v1::Alert no_run = AlertAt(100, 0);
  no_run.clear_run_id();
  EXPECT_EQ(finder.Describe(no_run), "");
  cit::v1::Alert no_position = AlertAt(100, 0);
  no_position.clear_position();
  EXPECT_EQ(finder.Describe(no_position), "");
  EXPECT_EQ(finder.fetches(), 2);

  // A run whose plan cannot be read: said once, not asked again.
  cit::v1::Alert gone = AlertAt(100, 0);
  gone.set_run_id("RUN-GONE");
  EXPECT_EQ(finder.Describe(gone), "");
  EXPECT_EQ(finder.Describe(gone), "");
  EXPECT_EQ(finder.fetches(), 3);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("run RUN-GONE"));
  EXPECT_THAT(errors[0], HasSubstr("latitude/longitude only"));
}

TEST(AlertPlaceTest, WatchLinesTablesAndTheBoardShowThePlace) {
  FakePlans plans;
  PlaceFinder finder([&](const std::string& r, uint32_t v) { return plans(r, v); });
  const PlaceNote note = [&](const cit::v1::Alert& a) { return finder.Describe(a); };
  const cit::v1::Alert door = AlertAt(400, 330);
  cit::v1::AlertEvent event;
  event.set_type(cit::v1::ALERT_EVENT_TYPE_RAISED);
  *event.mutable_alert() = door;

  const std::string line = FormatAlertEvent(event, {.place = true, .place_note = note});
  EXPECT_THAT(line, HasSubstr(" at 47.372969,8.505306 (470 m from S1 Depot Zurich, 0.4 of 2.0 km "
                              "along the route, 330 m off route)"));
  cit::v1::ListAlertsResponse list;
  *list.add_alerts() = door;
  cit::v1::Alert no_run = AlertAt(100, 0);
  no_run.set_alert_id(8);
  no_run.clear_run_id();
  *list.add_alerts() = no_run;
  const std::string table = FormatAlertTable(list, TimeZoneChoice::kUtc, note);
  EXPECT_THAT(table, HasSubstr("PLACE"));
  EXPECT_THAT(table, HasSubstr("470 m from S1 Depot Zurich, 0.4 of 2.0 km along the route"));
  EXPECT_THAT(table, HasSubstr("47.37000,8.50133"));  // no run: the position

  AlertBoard board;
  board.Apply(event, finder.Describe(door));
  BoardView view;
  view.width = 200;
  view.height = 10;
  view.color = false;
  const std::string screen = board.Render(view);
  EXPECT_THAT(screen, HasSubstr("CIT-0001  -  470 m from S1 Depot Zurich, 0.4 of 2.0 km along the "
                                "route, 330 m off route"));
}

}  // namespace
}  // namespace cit::ctl
