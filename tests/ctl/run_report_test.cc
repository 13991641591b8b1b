// Planned against actual on the fixed scenario (tests/ctl/scenario.h), computed in process.
#include "dispatch-server/audit/run_report.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "tests/ctl/scenario.h"

namespace cit::dispatch {
namespace {

namespace sc = cit::test::scenario;
using google::protobuf::util::TimeUtil;

std::vector<cit::v1::StoredRecord> Stored(const std::vector<cit::v1::Record>& records) {
  std::vector<cit::v1::StoredRecord> out;
  for (const auto& r : records) *out.emplace_back().mutable_record() = r;
  return out;
}

cit::v1::RunReport Report() { return BuildRunReport(sc::MakeRun(), Stored(sc::MakeRecords()), {}); }

TEST(RunReportTest, StopsGetArrivalDepartureDwellAndStatus) {
  cit::v1::RunReport r = Report();
  ASSERT_EQ(r.stops_size(), 3);
  const auto& s1 = r.stops(0);
  EXPECT_EQ(s1.status(), cit::v1::STOP_STATUS_DEPARTED);
  EXPECT_EQ(s1.arrived(), sc::Start());
  EXPECT_EQ(s1.departed(), cit::test::Plus(sc::Start(), 70));
  EXPECT_DOUBLE_EQ(s1.dwell_s(), 70);
  EXPECT_EQ(s1.door_openings(), 0u);
  const auto& s2 = r.stops(1);
  EXPECT_EQ(s2.status(), cit::v1::STOP_STATUS_DEPARTED);
  EXPECT_EQ(s2.arrived(), cit::test::Plus(sc::Start(), 180));
  EXPECT_DOUBLE_EQ(s2.dwell_s(), 130);
  EXPECT_FALSE(s2.late());
  EXPECT_FALSE(s2.early());
  EXPECT_EQ(s2.door_openings(), 1u);
  // Aborted before S3 and no later stop visited: skipped, not missed.
  EXPECT_EQ(r.stops(2).status(), cit::v1::STOP_STATUS_SKIPPED);
  EXPECT_FALSE(r.stops(2).has_arrived());
}

TEST(RunReportTest, OffRouteTimeAndDistanceCountStepsOutsideTheCorridor) {
  cit::v1::RunReport r = Report();
  EXPECT_DOUBLE_EQ(r.off_route_s(), 60);
  EXPECT_NEAR(r.off_route_distance_m(), 150 + 2 * std::hypot(100, 180) + 200 + 150, 2.0);
  EXPECT_NEAR(r.distance_m(), 300 + 911.8 + 300 + 500, 3.0);
  // The scenario lays points out on the WGS84 ellipsoid, the report measures on a sphere.
  EXPECT_NEAR(r.planned_distance_m(), 2000, 5.0);
}

TEST(RunReportTest, CountsFixesDoorEventsAndBoundsTheTrack) {
  cit::v1::RunReport r = Report();
  EXPECT_EQ(r.fixes(), 7u + 12u + 12u + 5u);
  EXPECT_EQ(r.door_events(), 4u);
  EXPECT_EQ(r.first_fix_time(), sc::Start());
  EXPECT_EQ(r.last_fix_time(), cit::test::Plus(sc::Start(), 350));
}

TEST(RunReportTest, StopReachedBeforeAnEarlierOneIsOutOfOrderAndLaterOnesPending) {
  cit::v1::Run run = sc::MakeRun();
  run.set_state(cit::v1::RUN_STATE_ACTIVE);
  // Swap S1 and S2 in the plan: the truck reaches (new) S2 = depot first.
  auto* stops = run.mutable_plan()->mutable_stops();
  stops->SwapElements(0, 1);
  cit::v1::RunReport r = BuildRunReport(run, Stored(sc::MakeRecords()), {});
  EXPECT_FALSE(r.stops(0).out_of_order());
  EXPECT_TRUE(r.stops(1).out_of_order());
  EXPECT_EQ(r.stops(2).status(), cit::v1::STOP_STATUS_PENDING);
}

TEST(RunReportTest, WindowStartsAtPlannedStartAndEndsWithTheRun) {
  auto [from, to] = RunWindow(sc::MakeRun());
  ASSERT_TRUE(from && to);
  // Dispatched a minute before the planned start: records from the dispatch on belong to it.
  EXPECT_EQ(*from, cit::test::Plus(sc::Start(), -60));
  EXPECT_EQ(*to, cit::test::Plus(sc::Start(), 1200));
  cit::v1::Run open = sc::MakeRun();
  open.set_state(cit::v1::RUN_STATE_ACTIVE);
  EXPECT_FALSE(RunWindow(open).second.has_value());
}

TEST(RunReportTest, AlertsAreListedInIdOrder) {
  std::vector<cit::v1::Alert> alerts(2);
  alerts[0].set_alert_id(9);
  alerts[1].set_alert_id(4);
  cit::v1::RunReport r = BuildRunReport(sc::MakeRun(), {}, alerts);
  ASSERT_EQ(r.alerts_size(), 2);
  EXPECT_EQ(r.alerts(0).alert_id(), 4u);
  EXPECT_EQ(r.stops(0).status(), cit::v1::STOP_STATUS_SKIPPED);
}

}  // namespace
}  // namespace cit::dispatch
