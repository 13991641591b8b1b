// Each rule of DESIGN §6 through the monitor: fires, does not fire on the near miss, clears.
#include <gtest/gtest.h>

#include "tests/dispatch/monitor_harness.h"

namespace cit::dispatch::test {
namespace {

using cit::v1::ALERT_KIND_COMMS_LOST;
using cit::v1::ALERT_KIND_CREW_INCOMPLETE;
using cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP;
using cit::v1::ALERT_KIND_DWELL_EXCEEDED;
using cit::v1::ALERT_KIND_EARLY_ARRIVAL;
using cit::v1::ALERT_KIND_GNSS_IMPLAUSIBLE;
using cit::v1::ALERT_KIND_GNSS_LOST;
using cit::v1::ALERT_KIND_LATE_ARRIVAL;
using cit::v1::ALERT_KIND_MISSED_STOP;
using cit::v1::ALERT_KIND_MOVED_WITHOUT_RUN;
using cit::v1::ALERT_KIND_OUT_OF_ORDER_STOP;
using cit::v1::ALERT_KIND_OVERSPEED;
using cit::v1::ALERT_KIND_PANIC;
using cit::v1::ALERT_KIND_ROUTE_DEVIATION;
using cit::v1::ALERT_KIND_SEAL_BROKEN;
using cit::v1::ALERT_KIND_UNSCHEDULED_STOP;
using cit::v1::ALERT_KIND_WRONG_DIRECTION;

FixOptions Speed(double s) {
  FixOptions o;
  o.speed_mps = s;
  return o;
}

// ---- ROUTE_DEVIATION ----

TEST(RouteDeviationRuleTest, OffCorridorForTwoFixesAndTenSecondsRaisesThenClears) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 100, 0);
  const double left = t;
  for (int i = 0; i <= 12; ++i) h.Fix(110 + 10 * i, 200, t++, Speed(10));
  const cit::v1::Alert a = h.One(ALERT_KIND_ROUTE_DEVIATION);
  EXPECT_EQ(a.severity(), cit::v1::SEVERITY_HIGH);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()) - left, 10.0);
  EXPECT_FALSE(a.delayed());
  h.Fix(250, 0, t++, Speed(10));
  h.Fix(260, 0, t++, Speed(10));
  EXPECT_FALSE(h.One(ALERT_KIND_ROUTE_DEVIATION).has_condition_cleared_time());
  h.Fix(270, 0, t++, Speed(10));
  EXPECT_TRUE(h.One(ALERT_KIND_ROUTE_DEVIATION).has_condition_cleared_time());
}

TEST(RouteDeviationRuleTest, PlanChangeOfALiveRunAppliesFromThatMomentAndAlertsNameTheVersion) {
  MonitorHarness h;
  h.Dispatch(h.Plan());  // half-width 50 m
  double t = h.Drive(0, 100, 0);
  for (int i = 0; i <= 12; ++i) h.Fix(110 + 10 * i, 200, t++, Speed(10));
  const cit::v1::Alert first = h.One(ALERT_KIND_ROUTE_DEVIATION);
  EXPECT_EQ(first.plan_version(), 1u);
  // The dispatcher widens the corridor while the truck is out: version 2, from now on.
  cit::v1::RunPlan wider = h.Plan();
  wider.mutable_route()->set_corridor_half_width_m(400);
  ASSERT_TRUE(h.runs().Update(wider, "dora", "diversion around the closed bridge").ok());
  h.monitor().RunOnce();
  ASSERT_TRUE(h.alerts().Resolve(first.alert_id(), "olga", "diversion agreed").ok());
  for (int i = 0; i <= 12; ++i) h.Fix(250 + 10 * i, 200, t++, Speed(10));  // inside 400 m
  EXPECT_EQ(h.Alerts(ALERT_KIND_ROUTE_DEVIATION).size(), 1u);
  for (int i = 0; i <= 12; ++i) h.Fix(400 + 10 * i, 600, t++, Speed(10));  // beyond it
  const auto all = h.Alerts(ALERT_KIND_ROUTE_DEVIATION);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.back().plan_version(), 2u);
}

TEST(RouteDeviationRuleTest, NineSecondsOffOrWithinFixErrorDoesNotRaise) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 100, 0);
  for (int i = 0; i < 10; ++i) h.Fix(110 + 10 * i, 200, t++, Speed(10));  // spans 9 s
  h.Fix(210, 0, t++, Speed(10));
  FixOptions noisy = Speed(10);
  noisy.eph_m = 20;
  for (int i = 0; i < 20; ++i) h.Fix(220 + 10 * i, 65, t++, noisy);  // 65 - 20 < 50
  EXPECT_EQ(h.Count(ALERT_KIND_ROUTE_DEVIATION), 0u);
}

TEST(RouteDeviationRuleTest, BeyondOneKilometreEscalatesToCritical) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 100, 0);
  for (int i = 0; i <= 11; ++i) h.Fix(100, 200, t++, Speed(0.5));
  EXPECT_EQ(h.One(ALERT_KIND_ROUTE_DEVIATION).severity(), cit::v1::SEVERITY_HIGH);
  h.Fix(100, 1200, t + 60, Speed(20));
  const cit::v1::Alert a = h.One(ALERT_KIND_ROUTE_DEVIATION);
  EXPECT_EQ(a.severity(), cit::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(a.occurrences(), 1u);
}

// ---- WRONG_DIRECTION ----

TEST(WrongDirectionRuleTest, DrivingBackBeyondToleranceRaisesAndForwardClears) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 1000, 0, 20);
  t = h.Drive(990, 700, t, 10);  // 300 m back, tolerance 150
  EXPECT_EQ(h.Count(ALERT_KIND_WRONG_DIRECTION), 1u);
  h.Drive(710, 760, t, 10);
  EXPECT_TRUE(h.One(ALERT_KIND_WRONG_DIRECTION).has_condition_cleared_time());
}

TEST(WrongDirectionRuleTest, ShortReversalWithinToleranceDoesNotRaise) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 1000, 0, 20);
  t = h.Drive(990, 880, t, 10);  // 120 m back
  h.Drive(890, 1500, t, 10);
  EXPECT_EQ(h.Count(ALERT_KIND_WRONG_DIRECTION), 0u);
}

// ---- OUT_OF_ORDER_STOP ----

TEST(OutOfOrderStopRuleTest, ArrivingBeforeAnEarlierStopRaises) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 0);
  MonitorHarness::AddStop(plan, "S2", 3000, 0);
  MonitorHarness::AddStop(plan, "S3", 2000, 0);
  h.Dispatch(plan);
  h.Drive(0, 2000, 0, 20);
  const cit::v1::Alert a = h.One(ALERT_KIND_OUT_OF_ORDER_STOP);
  EXPECT_EQ(a.subject(), "S3");
}

TEST(OutOfOrderStopRuleTest, StopsInPlanOrderDoNotRaise) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 0);
  MonitorHarness::AddStop(plan, "S2", 2000);
  MonitorHarness::AddStop(plan, "S3", 3000);
  h.Dispatch(plan);
  h.Drive(0, 3500, 0, 20);
  EXPECT_EQ(h.Count(ALERT_KIND_OUT_OF_ORDER_STOP), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);
}

// ---- UNSCHEDULED_STOP ----

TEST(UnscheduledStopRuleTest, StoppedTwoMinutesOutsideStopsRaisesAndMovingClears) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 500, 0);
  const double stopped = t;
  for (int i = 0; i <= 121; ++i) h.Fix(500, 0, t++, Speed(0.2));
  const cit::v1::Alert a = h.One(ALERT_KIND_UNSCHEDULED_STOP);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()) - stopped, 120.0);
  h.Drive(510, 700, t, 10);
  EXPECT_TRUE(h.One(ALERT_KIND_UNSCHEDULED_STOP).has_condition_cleared_time());
}

TEST(UnscheduledStopRuleTest, ShorterStopOrStopInsideAZoneDoesNotRaise) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 1000);
  h.Dispatch(plan);
  double t = h.Drive(0, 500, 0);
  for (int i = 0; i < 119; ++i) h.Fix(500, 0, t++, Speed(0.2));  // 118 s
  t = h.Drive(510, 1000, t);
  for (int i = 0; i < 300; ++i) h.Fix(1000, 5, t++, Speed(0));
  h.Drive(1010, 1500, t);
  EXPECT_EQ(h.Count(ALERT_KIND_UNSCHEDULED_STOP), 0u);
}

TEST(UnscheduledStopRuleTest, FrozenPositionThenJumpIsNotAStop) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 500, 0);
  FixOptions unknown_speed;  // no reported speed, like the Munich trace
  for (int i = 0; i < 150; ++i) h.Fix(500, 0, t++, unknown_speed);  // frozen 150 s...
  EXPECT_EQ(h.Count(ALERT_KIND_UNSCHEDULED_STOP), 1u);  // ...is a stop once it lasts 120 s
  MonitorHarness g;
  g.Dispatch(g.Plan());
  t = g.Drive(0, 500, 0);
  for (int i = 0; i < 34; ++i) g.Fix(500, 0, t++, unknown_speed);  // tunnel: 34 s freeze
  g.Fix(970, 0, t++, unknown_speed);                               // then a 470 m jump
  for (int i = 1; i < 100; ++i) g.Fix(970 + 12 * i, 0, t++, unknown_speed);
  EXPECT_EQ(g.Count(ALERT_KIND_UNSCHEDULED_STOP), 0u);
  EXPECT_EQ(g.Count(ALERT_KIND_GNSS_IMPLAUSIBLE), 0u);
  EXPECT_EQ(g.Count(ALERT_KIND_ROUTE_DEVIATION), 0u);
}

// ---- DOOR_OPEN_OUTSIDE_STOP / SEAL_BROKEN / CREW_INCOMPLETE ----

cit::v1::RunPlan PlanWithBranch(MonitorHarness& h, bool doors, bool seal) {
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "DEPOT", 0);
  cit::v1::Stop* s = MonitorHarness::AddStop(plan, "BRANCH", 1000);
  s->set_doors_may_open(doors);
  s->set_seal_may_break(seal);
  s->set_crew_check_in_required(true);
  plan.add_crew_badges("B1");
  plan.add_crew_badges("B2");
  return plan;
}

TEST(DoorOpenOutsideStopRuleTest, DoorOpenBetweenStopsRaisesCriticalAndClosingClears) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, true));
  double t = h.Drive(0, 500, 0);
  h.Door(2, cit::v1::DOOR_STATE_OPEN, t++);
  const cit::v1::Alert a = h.One(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP);
  EXPECT_EQ(a.severity(), cit::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(a.subject(), "door:2");
  h.Door(2, cit::v1::DOOR_STATE_CLOSED, t++);
  EXPECT_TRUE(h.One(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP).has_condition_cleared_time());
}

TEST(DoorOpenOutsideStopRuleTest, DoorOpenAtAuthorisingStopDoesNotRaise) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, true));
  h.Crew("B1", cit::v1::CREW_ACTION_CHECK_IN, 0);
  h.Crew("B2", cit::v1::CREW_ACTION_CHECK_IN, 0);
  double t = h.Drive(0, 1000, 1);
  h.Door(2, cit::v1::DOOR_STATE_OPEN, t++);
  h.Door(2, cit::v1::DOOR_STATE_CLOSED, t++);
  EXPECT_EQ(h.Count(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_CREW_INCOMPLETE), 0u);
}

TEST(DoorOpenOutsideStopRuleTest, DoorOpenAtStopThatDoesNotAuthoriseRaises) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, false, false));
  double t = h.Drive(0, 1000, 1);
  h.Door(1, cit::v1::DOOR_STATE_OPEN, t++);
  EXPECT_EQ(h.Count(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP), 1u);
}

cit::v1::Record DoorRecord(uint32_t door, cit::v1::DoorState state) {
  cit::v1::Record r;
  r.mutable_door()->set_door(door);
  r.mutable_door()->set_state(state);
  return r;
}

// A coverage gap: the last fix the server has is at 500 m, then the truck drives on. Its door
// event jumps the agent's backlog (urgent channel) and arrives before the fixes in between;
// where the truck was is only known once they are in.
TEST(DoorOpenOutsideStopRuleTest, UrgentDoorAheadOfBacklogIsJudgedWhereTheTruckWas) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, true));
  double t = h.Drive(0, 500, 0);  // 10 m/s
  const uint64_t backlog = h.ReserveSeqs(60);
  const double door_t = t + 60;
  // At door_t the truck stands at BRANCH (1000 m), which authorises doors.
  h.RecordAs(backlog + 60, DoorRecord(1, cit::v1::DOOR_STATE_OPEN), door_t);
  EXPECT_EQ(h.Count(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP), 0u) << "judged before the position";
  for (int i = 0; i < 60; ++i) {
    cit::v1::Record f;
    const double x = std::min(1000.0, 500 + 10.0 * (i + 1));
    *f.mutable_fix() = cit::v1::Fix();
    f.mutable_fix()->set_lat_deg(At(x, 0).lat_deg());
    f.mutable_fix()->set_lon_deg(At(x, 0).lon_deg());
    f.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    h.RecordAs(backlog + i, f, t + i, /*receive_delay_s=*/door_t + 1 - (t + i));
  }
  EXPECT_EQ(h.Count(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP), 0u) << "the truck was at BRANCH";
}

TEST(DoorOpenOutsideStopRuleTest, UrgentDoorAheadOfBacklogAfterLeavingTheStopRaises) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, true));
  double t = h.Drive(0, 1000, 0);  // last fix the server has: at BRANCH
  const uint64_t backlog = h.ReserveSeqs(30);
  const double door_t = t + 30;
  // The truck left BRANCH during the gap and opened a door 300 m further on.
  h.RecordAs(backlog + 30, DoorRecord(2, cit::v1::DOOR_STATE_OPEN), door_t);
  for (int i = 0; i < 30; ++i) {
    cit::v1::Record f;
    const double x = 1000 + 10.0 * (i + 1);
    f.mutable_fix()->set_lat_deg(At(x, 0).lat_deg());
    f.mutable_fix()->set_lon_deg(At(x, 0).lon_deg());
    f.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    f.mutable_fix()->set_speed_mps(10);
    h.RecordAs(backlog + i, f, t + i, /*receive_delay_s=*/door_t + 1 - (t + i));
  }
  const cit::v1::Alert a = h.One(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP);
  EXPECT_EQ(a.subject(), "door:2");
  EXPECT_EQ(MonitorHarness::Rel(a.event_time()), door_t);
}

TEST(DoorOpenOutsideStopRuleTest, UrgentDoorWhoseBacklogNeverComesIsJudgedAtTheDeadline) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, true));
  double t = h.Drive(0, 500, 0);
  const uint64_t backlog = h.ReserveSeqs(10);  // thinned away, never sent
  h.RecordAs(backlog + 10, DoorRecord(1, cit::v1::DOOR_STATE_OPEN), t + 10);
  h.RecordAs(backlog + 11, DoorRecord(1, cit::v1::DOOR_STATE_CLOSED), t + 12);
  h.AdvanceTo(t + 29);
  EXPECT_EQ(h.Count(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP), 0u);
  h.AdvanceTo(t + 31);  // door_position_wait_s = 20 s after arrival
  const cit::v1::Alert a = h.One(ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP);
  EXPECT_TRUE(a.has_condition_cleared_time()) << "open and close judged in order";
}

TEST(SealBrokenRuleTest, SealBrokenOutsideAuthorisingStopRaisesAndIntactClears) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, false));
  double t = h.Drive(0, 1000, 0);
  cit::v1::Record r;
  r.mutable_seal()->set_seal(1);
  r.mutable_seal()->set_state(cit::v1::SEAL_STATE_BROKEN);
  h.Record(r, t++);
  EXPECT_EQ(h.One(ALERT_KIND_SEAL_BROKEN).subject(), "seal:1");
  r.mutable_seal()->set_state(cit::v1::SEAL_STATE_INTACT);
  h.Record(r, t++);
  EXPECT_TRUE(h.One(ALERT_KIND_SEAL_BROKEN).has_condition_cleared_time());
}

TEST(SealBrokenRuleTest, SealBrokenWhereAuthorisedDoesNotRaise) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, true));
  double t = h.Drive(0, 1000, 0);
  cit::v1::Record r;
  r.mutable_seal()->set_seal(1);
  r.mutable_seal()->set_state(cit::v1::SEAL_STATE_BROKEN);
  h.Record(r, t++);
  EXPECT_EQ(h.Count(ALERT_KIND_SEAL_BROKEN), 0u);
}

TEST(CrewIncompleteRuleTest, LeavingDepotWithOneCrewRaisesAndSecondCheckInClears) {
  MonitorHarness h;
  h.Dispatch(PlanWithBranch(h, true, true));
  h.Crew("B1", cit::v1::CREW_ACTION_CHECK_IN, 0);
  double t = h.Drive(0, 300, 1);
  EXPECT_EQ(h.One(ALERT_KIND_CREW_INCOMPLETE).subject(), "departure");
  auto run = h.runs().Get("run-1");
  EXPECT_EQ(run->state(), cit::v1::RUN_STATE_ACTIVE);
  h.Crew("B2", cit::v1::CREW_ACTION_CHECK_IN, t);
  EXPECT_TRUE(h.One(ALERT_KIND_CREW_INCOMPLETE).has_condition_cleared_time());
}

// ---- PANIC ----

TEST(PanicRuleTest, DuressInputRaisesCriticalImmediately) {
  MonitorHarness h;
  h.Fix(0, 0, 0);
  cit::v1::Record r;
  r.mutable_panic()->set_source("gpio:17");
  h.Record(r, 1);
  const cit::v1::Alert a = h.One(ALERT_KIND_PANIC);
  EXPECT_EQ(a.severity(), cit::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(a.subject(), "gpio:17");
  EXPECT_TRUE(a.has_position());
}

// ---- LATE_ARRIVAL / MISSED_STOP / EARLY_ARRIVAL / DWELL_EXCEEDED (clock-driven) ----

// The fleet view says how late: the window's close travels with the late flag (dispatchctl
// fleet prints "12 min late" from it).
TEST(LateArrivalRuleTest, FleetViewCarriesTheClosingOfTheLateStopsWindow) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  *MonitorHarness::AddStop(plan, "S1", 2000)->mutable_arrival_latest() = MonitorHarness::T(300);
  h.Dispatch(plan);
  h.Drive(0, 100, 0);
  h.AdvanceTo(400);
  const cit::v1::Fleet fleet = h.monitor().Fleet();
  ASSERT_EQ(fleet.vehicles_size(), 1);
  const cit::v1::VehicleState& v = fleet.vehicles(0);
  EXPECT_EQ(v.next_stop_id(), "S1");
  EXPECT_TRUE(v.next_stop_late());
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(v.next_stop_arrival_latest()), 300);
}

TEST(LateArrivalRuleTest, WindowClosingWithoutArrivalRaisesOnTheClockAndArrivalClears) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  *MonitorHarness::AddStop(plan, "S1", 2000)->mutable_arrival_latest() = MonitorHarness::T(300);
  h.Dispatch(plan);
  h.Drive(0, 100, 0);
  h.AdvanceTo(299);
  EXPECT_EQ(h.Count(ALERT_KIND_LATE_ARRIVAL), 0u);
  h.AdvanceTo(300.2);  // no record since t = 10
  const cit::v1::Alert a = h.One(ALERT_KIND_LATE_ARRIVAL);
  EXPECT_EQ(a.subject(), "S1");
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), 300);
  h.Drive(1900, 2000, 301);
  EXPECT_TRUE(h.One(ALERT_KIND_LATE_ARRIVAL).has_condition_cleared_time());
}

TEST(LateArrivalRuleTest, ArrivalBeforeTheWindowClosesDoesNotRaise) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  *MonitorHarness::AddStop(plan, "S1", 2000)->mutable_arrival_latest() = MonitorHarness::T(300);
  h.Dispatch(plan);
  h.Drive(0, 2000, 0, 20);
  h.AdvanceTo(3000);
  EXPECT_EQ(h.Count(ALERT_KIND_LATE_ARRIVAL), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);
}

TEST(MissedStopRuleTest, StillAbsentAfterTheGraceRaisesOnTheClock) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  plan.mutable_limits()->set_missed_stop_grace_s(600);
  *MonitorHarness::AddStop(plan, "S1", 2000)->mutable_arrival_latest() = MonitorHarness::T(300);
  h.Dispatch(plan);
  h.Fix(0, 0, 0);
  h.AdvanceTo(899);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);
  h.AdvanceTo(900.1);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(h.One(ALERT_KIND_MISSED_STOP).event_time()), 900);
}

TEST(MissedStopRuleTest, PassingTheStopWithoutEnteringRaisesAndLaterArrivalClears) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 1000, 45, 30);  // zone beside the road, not on it
  h.Dispatch(plan);
  double t = h.Drive(0, 1200, 0);
  EXPECT_EQ(h.One(ALERT_KIND_MISSED_STOP).subject(), "S1");
  t = h.Drive(1190, 1000, t);
  h.Fix(1000, 40, t++, Speed(0));
  EXPECT_TRUE(h.One(ALERT_KIND_MISSED_STOP).has_condition_cleared_time());
}

TEST(MissedStopRuleTest, CompletingTheRunWithAPendingStopRaises) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 5000);
  h.Dispatch(plan);
  h.Drive(0, 300, 0);
  ASSERT_TRUE(h.runs().Complete("run-1", "done early", "tester").ok());
  h.monitor().RunOnce();
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 1u);
}

TEST(EarlyArrivalRuleTest, ArrivingBeforeTheWindowRaisesLowAndDepartureClears) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  *MonitorHarness::AddStop(plan, "S1", 500)->mutable_arrival_earliest() = MonitorHarness::T(600);
  h.Dispatch(plan);
  double t = h.Drive(0, 500, 0);
  EXPECT_EQ(h.One(ALERT_KIND_EARLY_ARRIVAL).severity(), cit::v1::SEVERITY_LOW);
  h.Drive(510, 700, t);
  EXPECT_TRUE(h.One(ALERT_KIND_EARLY_ARRIVAL).has_condition_cleared_time());
}

TEST(EarlyArrivalRuleTest, ArrivingInsideTheWindowDoesNotRaise) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  *MonitorHarness::AddStop(plan, "S1", 500)->mutable_arrival_earliest() = MonitorHarness::T(40);
  h.Dispatch(plan);
  h.Drive(0, 700, 0);
  EXPECT_EQ(h.Count(ALERT_KIND_EARLY_ARRIVAL), 0u);
}

TEST(DwellExceededRuleTest, StayingPastMaxDwellRaisesOnTheClockAndDepartureClears) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 500)->set_max_dwell_s(60);
  h.Dispatch(plan);
  double t = h.Drive(0, 500, 0);  // arrives at t = 46 (x = 460, inside the 40 m zone)
  h.AdvanceTo(t + 10);
  EXPECT_EQ(h.Count(ALERT_KIND_DWELL_EXCEEDED), 0u);
  h.AdvanceTo(t + 60);  // no record: the clock fires it
  EXPECT_EQ(h.One(ALERT_KIND_DWELL_EXCEEDED).subject(), "S1");
  h.Drive(510, 700, t + 61);
  EXPECT_TRUE(h.One(ALERT_KIND_DWELL_EXCEEDED).has_condition_cleared_time());
}

TEST(DwellExceededRuleTest, LeavingBeforeMaxDwellDoesNotRaise) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 500)->set_max_dwell_s(60);
  h.Dispatch(plan);
  double t = h.Drive(0, 500, 0);
  for (int i = 0; i < 40; ++i) h.Fix(500, 0, t++, Speed(0));
  h.Drive(510, 800, t);
  h.AdvanceTo(t + 500);
  EXPECT_EQ(h.Count(ALERT_KIND_DWELL_EXCEEDED), 0u);
}

// ---- GNSS_LOST / GNSS_IMPLAUSIBLE ----

TEST(GnssLostRuleTest, NoFixForThirtySecondsWhileHeardRaisesAndFixClears) {
  MonitorHarness h;
  h.Fix(0, 0, 0);
  FixOptions nofix;
  nofix.mode = cit::v1::FIX_MODE_NO_FIX;
  h.Fix(0, 0, 1, nofix);
  h.Heartbeat(20);
  h.AdvanceTo(30.9);
  EXPECT_EQ(h.Count(ALERT_KIND_GNSS_LOST), 0u);
  h.AdvanceTo(31.1);  // fires on the clock: the link was alive (heartbeat at 20 s)
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(h.One(ALERT_KIND_GNSS_LOST).event_time()), 31);
  h.Fix(0, 0, 40);
  EXPECT_TRUE(h.One(ALERT_KIND_GNSS_LOST).has_condition_cleared_time());
}

TEST(GnssLostRuleTest, FixBackWithinThresholdDoesNotRaise) {
  MonitorHarness h;
  h.Fix(0, 0, 0);
  FixOptions nofix;
  nofix.mode = cit::v1::FIX_MODE_NO_FIX;
  for (int i = 1; i < 29; ++i) h.Fix(0, 0, i, nofix);
  h.Fix(0, 0, 29);
  h.AdvanceTo(100);
  EXPECT_EQ(h.Count(ALERT_KIND_GNSS_LOST), 0u);
}

TEST(GnssImplausibleRuleTest, FiveKilometreJumpInOneSecondRaisesAndConsistentFixesClear) {
  MonitorHarness h;
  double t = h.Drive(0, 100, 0);
  h.Fix(5100, 0, t++, Speed(10));
  EXPECT_EQ(h.One(ALERT_KIND_GNSS_IMPLAUSIBLE).subject(), "position");
  h.Drive(5110, 5300, t);
  EXPECT_TRUE(h.One(ALERT_KIND_GNSS_IMPLAUSIBLE).has_condition_cleared_time());
}

TEST(GnssImplausibleRuleTest, FastButPossibleMotionDoesNotRaise) {
  MonitorHarness h;
  h.Drive(0, 3000, 0, 60);  // 216 km/h: overspeed, but physically possible
  EXPECT_EQ(h.Count(ALERT_KIND_GNSS_IMPLAUSIBLE), 0u);
}

TEST(GnssImplausibleRuleTest, HighJamIndicatorRaises) {
  MonitorHarness h;
  FixOptions o = Speed(10);
  o.jam = 150;
  h.Fix(0, 0, 0, o);
  EXPECT_EQ(h.Count(ALERT_KIND_GNSS_IMPLAUSIBLE), 0u);
  o.jam = 220;
  h.Fix(10, 0, 1, o);
  EXPECT_EQ(h.One(ALERT_KIND_GNSS_IMPLAUSIBLE).subject(), "jamming");
}

// ---- COMMS_LOST ----

TEST(CommsLostRuleTest, SilenceForSixtySecondsRaisesOnTheClockAndARecordClears) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  h.Fix(0, 0, 0);
  h.AdvanceTo(59.5);
  EXPECT_EQ(h.Count(ALERT_KIND_COMMS_LOST), 0u);
  h.AdvanceTo(60.5);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(h.One(ALERT_KIND_COMMS_LOST).event_time()), 60);
  h.Fix(10, 0, 61);
  EXPECT_TRUE(h.One(ALERT_KIND_COMMS_LOST).has_condition_cleared_time());
}

TEST(CommsLostRuleTest, RegularRecordsOrNoRunDoNotRaise) {
  MonitorHarness h;
  h.Fix(0, 0, 0);
  h.AdvanceTo(600);  // no run: silence is not an alert
  h.Dispatch(h.Plan());
  for (int i = 0; i < 10; ++i) h.Heartbeat(600 + 50 * i);
  EXPECT_EQ(h.Count(ALERT_KIND_COMMS_LOST), 0u);
}

// ---- OVERSPEED ----

TEST(OverspeedRuleTest, AboveLimitForTenSecondsRaisesAndSlowingClears) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  plan.mutable_limits()->set_max_speed_mps(20);
  h.Dispatch(plan);
  double t = h.Drive(0, 300, 0, 25);  // 13 fixes at 25 m/s
  EXPECT_EQ(h.One(ALERT_KIND_OVERSPEED).severity(), cit::v1::SEVERITY_MEDIUM);
  h.Drive(310, 400, t, 15);
  EXPECT_TRUE(h.One(ALERT_KIND_OVERSPEED).has_condition_cleared_time());
}

TEST(OverspeedRuleTest, BriefExcessDoesNotRaise) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  plan.mutable_limits()->set_max_speed_mps(20);
  h.Dispatch(plan);
  double t = h.Drive(0, 200, 0, 25);  // 9 fixes: 8 s
  t = h.Drive(210, 400, t, 15);
  EXPECT_EQ(h.Count(ALERT_KIND_OVERSPEED), 0u);
}

// ---- MOVED_WITHOUT_RUN ----

TEST(MovedWithoutRunRuleTest, MovingFarWithoutRunRaisesAndDispatchClears) {
  MonitorHarness h;
  for (int i = 0; i < 5; ++i) h.Fix(0, 0, i, Speed(0));
  h.Drive(0, 300, 5);
  EXPECT_EQ(h.One(ALERT_KIND_MOVED_WITHOUT_RUN).run_id(), "");
  h.Dispatch(h.Plan());
  EXPECT_TRUE(h.One(ALERT_KIND_MOVED_WITHOUT_RUN).has_condition_cleared_time());
}

TEST(MovedWithoutRunRuleTest, ShufflingInTheYardDoesNotRaise) {
  MonitorHarness h;
  double t = h.Drive(0, 150, 0, 5);
  h.Drive(150, 0, t, 5);
  EXPECT_EQ(h.Count(ALERT_KIND_MOVED_WITHOUT_RUN), 0u);
}

// ---- backfill ----

TEST(BackfillTest, AlertsFromBackfilledRecordsAreDelayedWithTheDelay) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  h.Drive(0, 100, 0);
  // The vehicle went off route at t = 100..130 but the records arrive at t = 700.
  h.clock().Set(kT0 + FromSeconds(700));
  for (int i = 0; i <= 30; ++i) {
    FixOptions o = Speed(10);
    o.receive_delay_s = 700 - (100 + i);
    o.keep_clock = true;
    h.Fix(100 + 10 * i, 300, 100 + i, o);
  }
  const cit::v1::Alert a = h.One(ALERT_KIND_ROUTE_DEVIATION);
  EXPECT_TRUE(a.delayed());
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), 110);
  EXPECT_DOUBLE_EQ(a.delay_s(), 590);
}

}  // namespace
}  // namespace cit::dispatch::test
