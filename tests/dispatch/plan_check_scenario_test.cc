// Issue 13's rule scenarios on the real drives (rule_scenarios.h), each also as a `plan check`
// run: the plan and the drive go through HandleCheckPlan, the server's code path of
// Plans.CheckPlan (its own rule engine, a clock that follows the fix times, nothing stored), and
// must give what the live server gives in rule_correctness_scenario_test. The Munich drive ships
// in tests/data; the Kubicka cases skip, naming the files, without ../shared/data.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dispatch-server/common/clock.h"
#include "dispatch-server/plancheck/plans_service.h"
#include "tests/dispatch/rule_scenarios.h"

namespace cit::dispatch {
namespace {

using rule_scenarios::Scenario;

// 2026-01-15T08:00:00Z: the drives' first fix.
const SysTime kBase = FromUnixSeconds(1'768'464'000);

cit::v1::CheckPlanResponse Check(const Scenario& s, const RulePolicy& rules = {}) {
  cit::v1::CheckPlanRequest req;
  *req.mutable_plan() = s.plan;
  cit::v1::CheckTrack& t = *req.mutable_track();
  for (const cit::test::TracePoint& p : s.fixes) {
    t.add_time_unix_ms(static_cast<int64_t>(ToUnixSeconds(kBase + FromSeconds(p.t_s)) * 1000));
    t.add_lat_deg(p.lat_deg);
    t.add_lon_deg(p.lon_deg);
  }
  PlansServiceDeps deps;
  deps.rules = rules;
  absl::StatusOr<cit::v1::CheckPlanResponse> r = HandleCheckPlan(deps, req);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : cit::v1::CheckPlanResponse{};
}

double SecondsIn(const google::protobuf::Timestamp& t) { return Seconds(FromProto(t) - kBase); }

std::vector<cit::v1::Alert> OfKind(const cit::v1::CheckPlanResponse& r, cit::v1::AlertKind kind) {
  std::vector<cit::v1::Alert> out;
  for (const cit::v1::Alert& a : r.alerts()) {
    if (a.kind() == kind) out.push_back(a);
  }
  return out;
}

TEST(PlanCheckScenarioTest, MunichFirstFixPastTheDepotPassesNothingAndIsNotWrongWay) {
  const Scenario sc = rule_scenarios::MunichFirstFixPastTheDepot("CIT-1");
  ASSERT_GT(sc.mark_s, 300);
  const cit::v1::CheckPlanResponse r = Check(sc);
  EXPECT_EQ(r.fixes(), sc.fixes.size());
  for (const cit::v1::Alert& a : r.alerts()) {
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_MISSED_STOP) << a.DebugString();
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_WRONG_DIRECTION) << a.DebugString();
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_OUT_OF_ORDER_STOP) << a.DebugString();
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_ROUTE_DEVIATION) << a.DebugString();
  }
}

TEST(PlanCheckScenarioTest, KubickaTrackCrossingALaterPartOfTheRoutePassesNoStopThere) {
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  CIT_SKIP_WITHOUT_KUBICKA("00000016");
  const Scenario sc = rule_scenarios::KubickaCrossing("CIT-1");
  ASSERT_GT(sc.plan.stops_size(), 10);
  const cit::v1::CheckPlanResponse r = Check(sc);
  int skipped_part = 0;  // stops from 5.6 km to 9.6 km: the track really skips them
  for (const cit::v1::Alert& a : OfKind(r, cit::v1::ALERT_KIND_MISSED_STOP)) {
    const double at_s = SecondsIn(a.event_time());
    EXPECT_FALSE(at_s >= 1150 && at_s < 1232)
        << a.subject() << " raised at " << at_s
        << " s, before the track joined the route again: " << a.details();
    const int at_m = std::stoi(a.subject().substr(1));
    if (at_m >= 5600 && at_m <= 9600) {
      ++skipped_part;
      EXPECT_GE(at_s, 1232) << a.subject();
    }
  }
  EXPECT_EQ(skipped_part, 6);
  EXPECT_TRUE(OfKind(r, cit::v1::ALERT_KIND_WRONG_DIRECTION).empty());
}

TEST(PlanCheckScenarioTest, KubickaExcursionsKeepTheirOwnTimesAndGrowingOnesEscalate) {
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  CIT_SKIP_WITHOUT_KUBICKA("00000016");
  const cit::v1::CheckPlanResponse r = Check(rule_scenarios::KubickaExcursions("CIT-1"));
  const auto deviations = OfKind(r, cit::v1::ALERT_KIND_ROUTE_DEVIATION);
  ASSERT_EQ(deviations.size(), 1u);
  const cit::v1::Alert& a = deviations[0];
  ASSERT_GE(a.occurrences(), 3u);
  ASSERT_EQ(a.occurrence_times_size(), static_cast<int>(a.occurrences()));
  for (int i = 1; i < a.occurrence_times_size(); ++i) {
    EXPECT_LT(FromProto(a.occurrence_times(i - 1)), FromProto(a.occurrence_times(i)));
  }
  EXPECT_NEAR(SecondsIn(a.event_time()), 712, 10);
  EXPECT_GT(SecondsIn(a.last_event_time()), 712 + 213 + 75);
  int past_380 = 0;
  for (const cit::v1::AlertEvent& e : r.events()) {
    if (e.alert().kind() != cit::v1::ALERT_KIND_ROUTE_DEVIATION ||
        e.type() != cit::v1::ALERT_EVENT_TYPE_ESCALATED) {
      continue;
    }
    EXPECT_NE(e.alert().details().find("grew to "), std::string::npos) << e.alert().details();
    past_380 += e.alert().details().find("past 380 m") != std::string::npos;
  }
  EXPECT_EQ(past_380, 2);
}

// The server's [rules] apply to a check as to the live monitor: with no escalation steps
// configured, the same excursions raise no ESCALATED event.
TEST(PlanCheckScenarioTest, ServerRulePolicyAppliesToTheCheck) {
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  CIT_SKIP_WITHOUT_KUBICKA("00000016");
  RulePolicy no_steps;
  no_steps.deviation.half_width_steps.clear();
  no_steps.deviation.distance_steps_m.clear();
  const cit::v1::CheckPlanResponse r = Check(rule_scenarios::KubickaExcursions("CIT-1"), no_steps);
  ASSERT_EQ(OfKind(r, cit::v1::ALERT_KIND_ROUTE_DEVIATION).size(), 1u);
  for (const cit::v1::AlertEvent& e : r.events()) {
    EXPECT_NE(e.type(), cit::v1::ALERT_EVENT_TYPE_ESCALATED) << e.alert().details();
  }
}

TEST(PlanCheckScenarioTest, MunichTunnelFreezeRaisesGnssLostOnceAndTrafficStopsDoNot) {
  const Scenario sc = rule_scenarios::MunichTunnel("CIT-1");
  ASSERT_GT(sc.mark_s, 0);
  const cit::v1::CheckPlanResponse r = Check(sc);
  const auto lost = OfKind(r, cit::v1::ALERT_KIND_GNSS_LOST);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_DOUBLE_EQ(SecondsIn(lost[0].event_time()), sc.mark_s + 30);
  EXPECT_NE(lost[0].details().find("position frozen"), std::string::npos) << lost[0].details();
  EXPECT_TRUE(lost[0].has_condition_cleared_time());
  EXPECT_TRUE(OfKind(r, cit::v1::ALERT_KIND_ROUTE_DEVIATION).empty());
  EXPECT_TRUE(OfKind(r, cit::v1::ALERT_KIND_UNSCHEDULED_STOP).empty());
}

}  // namespace
}  // namespace cit::dispatch
