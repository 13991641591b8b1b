// Issue 13, rule correctness: what made operators distrust alerts on real drives, each case on
// the synthetic route of monitor_harness.h (the real drives are in scenario_test.cc).
//   - a stop is passed only when the track supports it, never from one fix;
//   - each occurrence of an alert keeps its own time;
//   - a deviation that grows past the escalation steps is heard again;
//   - a position frozen while moving counts as no usable fix for GNSS_LOST.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/dispatch/monitor_harness.h"

namespace cit::dispatch::test {
namespace {

using cit::v1::ALERT_KIND_GNSS_LOST;
using cit::v1::ALERT_KIND_MISSED_STOP;
using cit::v1::ALERT_KIND_OUT_OF_ORDER_STOP;
using cit::v1::ALERT_KIND_ROUTE_DEVIATION;
using cit::v1::ALERT_KIND_UNSCHEDULED_STOP;
using cit::v1::ALERT_KIND_WRONG_DIRECTION;

FixOptions Speed(double s) {
  FixOptions o;
  o.speed_mps = s;
  return o;
}

// Every alert event published so far (the harness has no store: memory holds them all).
std::vector<cit::v1::AlertEvent> Events(MonitorHarness& h, cit::v1::AlertKind kind) {
  std::vector<cit::v1::AlertEvent> all;
  EXPECT_TRUE(h.alerts().ReadEvents(0, AlertFilter{}, 100'000, &all).ok());
  std::vector<cit::v1::AlertEvent> out;
  for (auto& e : all) {
    if (e.alert().kind() == kind) out.push_back(std::move(e));
  }
  return out;
}

// ---- a stop is passed only when the track supports it ----------------------------------------

TEST(StopPassageTest, FirstFixPastTheFirstStopPassesNothingAndDrivingBackIsNotWrongDirection) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "DEPOT", 1000);
  MonitorHarness::AddStop(plan, "S2", 2500);
  MonitorHarness::AddStop(plan, "S3", 4000);
  h.Dispatch(plan);
  // The truck approaches its depot from the far side: its first fix is 400 m past it.
  double t = h.Drive(1400, 1000, 0, 10);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_WRONG_DIRECTION), 0u);
  for (int i = 0; i < 60; ++i) h.Fix(1000, 0, t++, Speed(0));  // loading at the depot
  h.Drive(1010, 4500, t, 10);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_WRONG_DIRECTION), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_OUT_OF_ORDER_STOP), 0u);
  EXPECT_EQ(h.runs().Get("run-1")->state(), cit::v1::RUN_STATE_ACTIVE);
}

TEST(StopPassageTest, OneStrayFixOnALaterLegOfTheRoutePassesNoStopAndSetsNoFurthestProgress) {
  MonitorHarness h;
  // East along y = 0 to x = 4000, north to y = 1000, west to x = 1500, then south across the
  // first leg (the street it shares at x = 1500) and on to y = -1000.
  cit::v1::RunPlan plan = h.Plan();
  plan.mutable_route()->clear_points();
  for (auto [x, y] : std::vector<std::pair<double, double>>{
           {0, 0}, {4000, 0}, {4000, 1000}, {1500, 1000}, {1500, -1000}}) {
    *plan.mutable_route()->add_points() = At(x, y);
  }
  MonitorHarness::AddStop(plan, "DEPOT", 0);
  for (int i = 1; i <= 6; ++i)
    MonitorHarness::AddStop(plan, "A" + std::to_string(i), 500 * i + 200);
  MonitorHarness::AddStop(plan, "B1", 3000, 1000);
  MonitorHarness::AddStop(plan, "B2", 2000, 1000);
  h.Dispatch(plan);
  const double t = h.Drive(0, 1450, 0, 10);
  ASSERT_EQ(h.runs().Get("run-1")->state(), cit::v1::RUN_STATE_ACTIVE);
  // One fix 75 m north of the road near the crossing: 30 m from the later leg, which Locate
  // (rightly, for that fix alone) prefers. Then the truck drives on along the first leg (fixes
  // 2 s apart around it, so that no jump is implausible).
  h.Fix(1470, 75, t + 1, Speed(10));
  h.Drive(1490, 2000, t + 3, 10);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);  // before: A3..A6, B1, B2 at once
  EXPECT_EQ(h.Count(ALERT_KIND_WRONG_DIRECTION), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_ROUTE_DEVIATION), 0u);
}

TEST(StopPassageTest, DrivingPastAStopWithoutEnteringItStillRaisesMissedStop) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "DEPOT", 0);
  MonitorHarness::AddStop(plan, "S1", 1000, 45, 30);  // beside the road, not on it
  h.Dispatch(plan);
  h.Drive(0, 1100, 0, 10);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);  // 100 m margin beyond the zone not reached
  h.Drive(1110, 1300, 111, 10);
  const cit::v1::Alert a = h.One(ALERT_KIND_MISSED_STOP);
  EXPECT_EQ(a.subject(), "S1");
  EXPECT_NEAR(MonitorHarness::Rel(a.event_time()), 114, 1.01);  // ~100 m beyond the zone
}

TEST(StopPassageTest, DetourRoundAStopPassesItWhereTheTruckRejoinsTheRoute) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "DEPOT", 0);
  MonitorHarness::AddStop(plan, "S1", 1000);
  h.Dispatch(plan);
  double t = h.Drive(0, 600, 0, 10);
  // 400 m north of the route round the stop, rejoining 1.4 km on: the progress from the last
  // position on the route (600 m) to the first back on it (2000 m) is drivable in that time.
  for (double x = 600; x <= 2000; x += 10) h.Fix(x, 400, t++, Speed(10));
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);
  const double rejoined = t;
  h.Drive(2000, 2200, t, 10);
  const cit::v1::Alert a = h.One(ALERT_KIND_MISSED_STOP);
  EXPECT_EQ(a.subject(), "S1");
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), rejoined);
}

TEST(StopPassageTest, RunStartingBeyondItsStopsPassesThemOnlyOnceClearlyUnderWay) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "DEPOT", 0);
  MonitorHarness::AddStop(plan, "S1", 1000);
  h.Dispatch(plan);
  // First fix 500 m past S1, driving on: 5 fixes but only 40 m forward is not yet under way.
  double t = h.Drive(1500, 1540, 0, 10);
  EXPECT_EQ(h.Count(ALERT_KIND_MISSED_STOP), 0u);
  EXPECT_EQ(h.runs().Get("run-1")->state(), cit::v1::RUN_STATE_DISPATCHED);
  h.Drive(1550, 1700, t, 10);
  // Under way at 1600 m (100 m forward): the run has left, and both stops are behind it.
  EXPECT_EQ(h.runs().Get("run-1")->state(), cit::v1::RUN_STATE_ACTIVE);
  const auto missed = h.Alerts(ALERT_KIND_MISSED_STOP);
  ASSERT_EQ(missed.size(), 2u);
  for (const auto& a : missed) EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), 10);
}

TEST(StopPassageTest, DrivingBackOnceUnderWayIsStillWrongDirection) {
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "DEPOT", 0);
  h.Dispatch(plan);
  double t = h.Drive(0, 1000, 0, 20);
  h.Drive(990, 700, t, 10);
  EXPECT_EQ(h.Count(ALERT_KIND_WRONG_DIRECTION), 1u);
}

// ---- each occurrence keeps its own time --------------------------------------------------------

TEST(OccurrenceTimeTest, DeviationThatComesBackCarriesTheTimeOfEachOccurrence) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 100, 0);
  for (int i = 0; i < 15; ++i) h.Fix(110 + 10 * i, 200, t++, Speed(10));  // off, raised
  const double first = MonitorHarness::Rel(h.One(ALERT_KIND_ROUTE_DEVIATION).event_time());
  t = h.Drive(260, 400, t);  // back: cleared after 3 fixes
  ASSERT_TRUE(h.One(ALERT_KIND_ROUTE_DEVIATION).has_condition_cleared_time());
  const double second_left = t;
  for (int i = 0; i < 15; ++i) h.Fix(410 + 10 * i, 200, t++, Speed(10));  // off again
  const cit::v1::Alert a = h.One(ALERT_KIND_ROUTE_DEVIATION);
  EXPECT_EQ(a.occurrences(), 2u);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), first);  // the first occurrence
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.last_event_time()), second_left + 10);
  ASSERT_EQ(a.occurrence_times_size(), 2);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.occurrence_times(0)), first);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.occurrence_times(1)), second_left + 10);
  // The REOCCURRED event carries the same times.
  const auto events = Events(h, ALERT_KIND_ROUTE_DEVIATION);
  ASSERT_EQ(events.back().type(), cit::v1::ALERT_EVENT_TYPE_REOCCURRED);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(events.back().alert().last_event_time()), second_left + 10);
}

TEST(OccurrenceTimeTest, OnlyTheLatestSixteenOccurrenceTimesAreKeptButAllAreCounted) {
  FakeClock clock(kT0);
  AlertManager alerts(nullptr, &clock);
  const AlertManager::Owner owner{"truck-7", "run-1", 1};
  for (int i = 0; i < 20; ++i) {
    AlertSignal s;
    s.kind = cit::v1::ALERT_KIND_PANIC;
    s.severity = cit::v1::SEVERITY_CRITICAL;
    s.subject = "cab-button";
    s.event_time = kT0 + FromSeconds(10 * i);
    s.momentary = true;
    ASSERT_TRUE(alerts.Raise(owner, s, 0).ok());
  }
  const std::vector<cit::v1::Alert> list = alerts.List(AlertFilter{});
  ASSERT_EQ(list.size(), 1u);
  const cit::v1::Alert& a = list[0];
  EXPECT_EQ(a.occurrences(), 20u);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), 0);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.last_event_time()), 190);
  ASSERT_EQ(a.occurrence_times_size(), AlertManager::kOccurrenceTimesKept);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.occurrence_times(0)), 40);  // occurrences 5..20
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.occurrence_times(15)), 190);
}

// ---- a deviation that grows is heard ----------------------------------------------------------

TEST(DeviationEscalationTest, GrowingDeviationEscalatesAtEachStepWithTheNewDistance) {
  MonitorHarness h;  // half-width 50 m: steps at 100 m, 500 m (2x, 10x) and 1000 m
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 100, 0);
  // Waits 80 m off the route (raised, high), long enough to be critical by time (5 min)...
  for (int i = 0; i < 320; ++i) h.Fix(100, 80, t++, Speed(0));
  // ...then drives 1.7 km away on the wrong road.
  for (double y = 80; y <= 1700; y += 20) h.Fix(100, y, t++, Speed(20));
  const auto events = Events(h, ALERT_KIND_ROUTE_DEVIATION);
  std::vector<std::string> escalations;
  for (const auto& e : events) {
    if (e.type() == cit::v1::ALERT_EVENT_TYPE_ESCALATED) escalations.push_back(e.alert().details());
  }
  ASSERT_EQ(events.front().type(), cit::v1::ALERT_EVENT_TYPE_RAISED);
  EXPECT_EQ(events.front().alert().severity(), cit::v1::SEVERITY_HIGH);
  // Critical after 5 min, then the three distance steps, each with its distance.
  ASSERT_EQ(escalations.size(), 4u) << testing::PrintToString(escalations);
  EXPECT_NE(escalations[0].find("critical"), std::string::npos) << escalations[0];
  EXPECT_NE(escalations[1].find("past 100 m"), std::string::npos) << escalations[1];
  EXPECT_NE(escalations[2].find("past 500 m"), std::string::npos) << escalations[2];
  EXPECT_NE(escalations[3].find("past 1000 m"), std::string::npos) << escalations[3];
  const cit::v1::Alert a = h.One(ALERT_KIND_ROUTE_DEVIATION);
  EXPECT_EQ(a.escalation_step(), 3u);
  EXPECT_EQ(a.severity(), cit::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(a.occurrences(), 1u);
}

TEST(DeviationEscalationTest, StepsComeFromThePolicyAndNoStepsMeansNoEscalation) {
  MonitorOptions o;
  o.rules.deviation.half_width_steps = {};
  o.rules.deviation.distance_steps_m = {300};
  o.rules.deviation.critical_m = 5000;
  MonitorHarness h(o);
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 100, 0);
  for (double y = 80; y <= 900; y += 20) h.Fix(100, y, t++, Speed(20));
  auto events = Events(h, ALERT_KIND_ROUTE_DEVIATION);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type(), cit::v1::ALERT_EVENT_TYPE_ESCALATED);
  EXPECT_NE(events[1].alert().details().find("past 300 m"), std::string::npos);
  EXPECT_EQ(events[1].alert().severity(), cit::v1::SEVERITY_HIGH);  // policy: critical at 5 km

  MonitorOptions none;
  none.rules.deviation.half_width_steps = {};
  none.rules.deviation.distance_steps_m = {};
  MonitorHarness g(none);
  g.Dispatch(g.Plan());
  t = g.Drive(0, 100, 0);
  for (double y = 80; y <= 900; y += 20) g.Fix(100, y, t++, Speed(20));
  EXPECT_EQ(Events(g, ALERT_KIND_ROUTE_DEVIATION).size(), 1u);
}

// ---- a frozen position is no usable fix --------------------------------------------------------

TEST(FrozenPositionTest, FreezeAtSpeedRaisesGnssLostAfterGnssLossSAndTheJumpClearsIt) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 600, 0, 15);
  const double froze = t - 1;  // the last distinct position
  FixOptions unknown_speed;    // no reported speed, like the Munich trace
  for (int i = 0; i < 29; ++i) h.Fix(600, 0, t++, unknown_speed);
  EXPECT_EQ(h.Count(ALERT_KIND_GNSS_LOST), 0u);
  for (int i = 0; i < 5; ++i) h.Fix(600, 0, t++, unknown_speed);  // 34 s frozen
  const cit::v1::Alert a = h.One(ALERT_KIND_GNSS_LOST);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), froze + 30);
  EXPECT_NE(a.details().find("position frozen"), std::string::npos) << a.details();
  EXPECT_NE(a.details().find("while the vehicle was moving"), std::string::npos) << a.details();
  h.Fix(1070, 0, t++, unknown_speed);  // the 470 m jump out of the tunnel
  const cit::v1::Alert cleared = h.One(ALERT_KIND_GNSS_LOST);
  EXPECT_TRUE(cleared.has_condition_cleared_time());
  const std::string& d = cleared.details();
  EXPECT_TRUE(d.find("; 470 m from the frozen position") != std::string::npos ||
              d.find("; 469 m from the frozen position") != std::string::npos)
      << d;
  h.Drive(1085, 1500, t, 15);
  EXPECT_EQ(h.Count(ALERT_KIND_UNSCHEDULED_STOP), 0u);
  EXPECT_EQ(h.Count(ALERT_KIND_ROUTE_DEVIATION), 0u);
}

TEST(FrozenPositionTest, FreezeAtSpeedFollowedBySilenceFiresOnTheClock) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 600, 0, 15);
  const double froze = t - 1;
  h.Fix(600, 0, t++, FixOptions{});  // one repeat, then only heartbeats
  h.Heartbeat(t + 10);
  h.AdvanceTo(froze + 29.9);
  EXPECT_EQ(h.Count(ALERT_KIND_GNSS_LOST), 0u);
  h.AdvanceTo(froze + 30.1);
  const cit::v1::Alert a = h.One(ALERT_KIND_GNSS_LOST);
  EXPECT_DOUBLE_EQ(MonitorHarness::Rel(a.event_time()), froze + 30);
  EXPECT_NE(a.details().find("position frozen"), std::string::npos) << a.details();
}

TEST(FrozenPositionTest, ReceiverPinningAStandingTruckIsNotGnssLost) {
  MonitorHarness h;
  h.Dispatch(h.Plan());
  double t = h.Drive(0, 600, 0, 10);
  // Braking to a standstill (Munich: 5.6, 4.0, 1.9 m/s), then the receiver repeats the
  // position for a minute at the traffic light (static hold).
  for (double x : {605.6, 609.6, 611.5}) h.Fix(x, 0, t++, FixOptions{});
  for (int i = 0; i < 60; ++i) h.Fix(611.5, 0, t++, FixOptions{});
  // A receiver that reports speed 0 while repeating a position says the truck stands.
  t = h.Drive(620, 900, t, 10);
  for (int i = 0; i < 60; ++i) h.Fix(900, 0, t++, Speed(0));
  // Fixes every 10 s: a truck at 10 m/s can stop before the next one; a feed that repeats the
  // last speed (10 m/s) while parked is no proof of motion.
  t = h.Drive(910, 1000, t, 10) + 9;
  for (int i = 0; i < 12; ++i, t += 10) h.Fix(1000, 0, t, Speed(10));
  h.AdvanceTo(t + 5);
  EXPECT_EQ(h.Count(ALERT_KIND_GNSS_LOST), 0u);
}

}  // namespace
}  // namespace cit::dispatch::test
