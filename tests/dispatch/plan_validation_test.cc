#include "dispatch-server/plans/plan_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "dispatch-server/plans/run_limits.h"

namespace cit::dispatch {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

cit::v1::RunPlan ValidPlan() {
  cit::v1::RunPlan plan;
  plan.set_run_id("2026-11-29-ZH-07");
  plan.set_vehicle_id("truck-7");
  plan.add_crew_badges("B1");
  plan.add_crew_badges("B2");
  auto* route = plan.mutable_route();
  for (int i = 0; i < 3; ++i) {
    auto* p = route->add_points();
    p->set_lat_deg(47.37 + i * 0.001);
    p->set_lon_deg(8.54);
  }
  for (int i = 0; i < 3; ++i) {
    auto* s = plan.add_stops();
    s->set_stop_id("S" + std::to_string(i + 1));
    s->mutable_position()->set_lat_deg(47.37 + i * 0.001);
    s->mutable_position()->set_lon_deg(8.54);
    s->set_radius_m(50);
  }
  return plan;
}

TEST(PlanValidationTest, ValidPlanPasses) {
  EXPECT_THAT(PlanProblems(ValidPlan()), IsEmpty());
  EXPECT_TRUE(ValidateRunPlan(ValidPlan()).ok());
}

TEST(PlanValidationTest, EveryProblemNamesFieldAndProblem) {
  cit::v1::RunPlan plan = ValidPlan();
  plan.mutable_stops(2)->set_radius_m(0);
  plan.mutable_stops(1)->set_stop_id("S1");
  plan.mutable_route()->mutable_points(1)->set_lat_deg(NAN);
  plan.mutable_route()->mutable_points(2)->set_lon_deg(181);
  plan.mutable_limits()->set_max_speed_mps(-1);
  plan.clear_vehicle_id();
  const auto problems = PlanProblems(plan);
  EXPECT_THAT(problems, Contains("stops[2].radius_m: must be > 0"));
  EXPECT_THAT(problems, Contains("stops[1].stop_id: duplicate \"S1\""));
  EXPECT_THAT(problems, Contains("route.points[1].lat_deg: must be finite"));
  EXPECT_THAT(problems, Contains("route.points[2].lon_deg: must be in [-180, 180]"));
  EXPECT_THAT(problems, Contains("limits.max_speed_mps: must be >= 0"));
  EXPECT_THAT(problems, Contains("vehicle_id: required"));
  const absl::Status s = ValidateRunPlan(plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("stops[2].radius_m: must be > 0"), std::string::npos);
}

TEST(PlanValidationTest, RouteNeedsExactlyOneSource) {
  cit::v1::RunPlan plan = ValidPlan();
  plan.mutable_route()->set_encoded_polyline("_p~iF~ps|U_ulLnnqC");
  EXPECT_THAT(PlanProblems(plan),
              Contains("route: give exactly one of points, geojson, gpx, encoded_polyline"));
  plan.mutable_route()->Clear();
  EXPECT_THAT(PlanProblems(plan),
              Contains("route: one of points, geojson, gpx, encoded_polyline is required"));
}

TEST(PlanValidationTest, WindowAndPolygonProblems) {
  cit::v1::RunPlan plan = ValidPlan();
  auto* s = plan.mutable_stops(0);
  s->mutable_arrival_earliest()->set_seconds(1'800'000'000);
  s->mutable_arrival_latest()->set_seconds(1'799'999'000);
  auto* poly = plan.mutable_stops(1)->mutable_polygon();
  poly->add_exterior()->set_lat_deg(47);
  poly->add_exterior()->set_lat_deg(47.1);
  const auto problems = PlanProblems(plan);
  EXPECT_THAT(problems, Contains("stops[0].arrival_latest: must not be before arrival_earliest"));
  EXPECT_THAT(problems, Contains("stops[1].polygon.exterior: needs at least 3 points"));
}

TEST(RunLimitsTest, ZeroMeansDefault) {
  cit::v1::RunLimits proto;
  proto.set_max_speed_mps(20);
  proto.set_deviation_min_fixes(4);
  const RunLimits l = ResolveLimits(proto);
  EXPECT_EQ(l.max_speed_mps, 20);
  EXPECT_EQ(l.deviation_min_fixes, 4u);
  EXPECT_EQ(l.unscheduled_stop_s, 120);
  EXPECT_EQ(l.comms_loss_s, 60);
  EXPECT_EQ(l.min_crew, 2u);
}

TEST(PlanValidationTest, HundredThousandProblemsComeBackAsTwentyAndACount) {
  // The whole list used to be the status message: gRPC refused it as metadata ("metadata size
  // exceeds limit") and the dispatcher learnt nothing.
  cit::v1::RunPlan plan = ValidPlan();
  plan.mutable_route()->clear_points();
  for (int i = 0; i < static_cast<int>(kMaxRoutePoints); ++i) {
    auto* p = plan.mutable_route()->add_points();
    p->set_lat_deg(200);
    p->set_lon_deg(8.54);
  }
  const size_t total = PlanProblems(plan).size();
  ASSERT_GE(total, 100'000u);
  const absl::Status s = ValidateRunPlan(plan);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const std::string message(s.message());
  EXPECT_LT(message.size(), 8 * 1024u) << "fits gRPC's default metadata limit";
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 20) << message;
  EXPECT_THAT(message, ::testing::HasSubstr("route.points[0]"));
  EXPECT_THAT(message, ::testing::HasSubstr(absl::StrCat("... and ", total - 20, " more")));
}

TEST(PlanValidationTest, JoinProblemsCutsLongLines) {
  EXPECT_EQ(JoinProblems({"a: x", "b: y"}), "a: x\nb: y");
  const std::string joined = JoinProblems({std::string(5000, 'z')});
  EXPECT_EQ(joined.size(), 203u);
}

}  // namespace
}  // namespace cit::dispatch
