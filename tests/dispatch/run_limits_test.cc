// RunLimits presence (issue 13): unset means the server default, a set value is taken as
// given (0 = no speed limit / no crew check), and zeros that can only be mistakes are refused.
#include "dispatch-server/plans/run_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "dispatch-server/plans/plan_validation.h"
#include "dispatch-server/plans/run_manager.h"
#include "tests/dispatch/monitor_harness.h"

namespace cit::dispatch {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(RunLimitsTest, UnsetIsTheDefaultAndASetZeroIsTakenAsGiven) {
  cit::v1::RunLimits proto;
  RunLimits l = ResolveLimits(proto);
  EXPECT_EQ(l.max_speed_mps, RunLimits{}.max_speed_mps);
  EXPECT_EQ(l.min_crew, 2u);
  proto.set_max_speed_mps(0);
  proto.set_min_crew(0);
  proto.set_deviation_min_s(0);
  l = ResolveLimits(proto);
  EXPECT_TRUE(std::isinf(l.max_speed_mps)) << "0 = no speed limit";
  EXPECT_EQ(l.min_crew, 0u) << "0 = no crew check";
  EXPECT_EQ(l.deviation_min_s, 0.0);
  proto.set_max_speed_mps(19.5);
  EXPECT_EQ(ResolveLimits(proto).max_speed_mps, 19.5);
}

TEST(RunLimitsTest, PlansStoredBeforePresenceReadBackAsDefaults) {
  // What the old code wrote for limits {max_speed_mps: 0, min_crew: 3}: proto3 without presence
  // never encoded the zero, only field 13 (min_crew, varint 3).
  const std::string old_bytes("\x68\x03", 2);
  cit::v1::RunLimits parsed;
  ASSERT_TRUE(parsed.ParseFromString(old_bytes));
  EXPECT_FALSE(parsed.has_max_speed_mps());
  EXPECT_TRUE(parsed.has_min_crew());
  const RunLimits l = ResolveLimits(parsed);
  EXPECT_EQ(l.max_speed_mps, RunLimits{}.max_speed_mps) << "old 0 meant the default, still does";
  EXPECT_EQ(l.min_crew, 3u);
}

TEST(RunLimitsTest, ZerosThatCanOnlyBeMistakesAreRefused) {
  cit::v1::RunPlan plan = test::MonitorHarness().Plan();
  plan.mutable_limits()->set_gnss_loss_s(0);
  plan.mutable_limits()->set_deviation_clear_fixes(0);
  plan.mutable_limits()->set_max_speed_mps(0);  // allowed: no limit
  const std::vector<std::string> problems = PlanProblems(plan);
  EXPECT_THAT(problems, Contains("limits.gnss_loss_s: must be > 0 (leave it out for the default)"));
  EXPECT_THAT(problems, Contains(HasSubstr("limits.deviation_clear_fixes: must be > 0")));
  for (const std::string& p : problems) EXPECT_THAT(p, ::testing::Not(HasSubstr("max_speed")));
}

TEST(RunLimitsTest, RequiredStopWindowsRefuseAStopWithoutOneNamingIt) {
  FakeClock clock(FromUnixSeconds(1'768'464'000));
  RunManager runs(nullptr, &clock);
  test::MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  *test::MonitorHarness::AddStop(plan, "S1", 0)->mutable_arrival_latest() =
      test::MonitorHarness::T(600);
  test::MonitorHarness::AddStop(plan, "S2", 1000);  // no window
  runs.SetRequireStopWindows(true);
  absl::StatusOr<cit::v1::Run> refused = runs.Create(plan, "carol");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("stops[1].arrival_latest: required on this server"));
  runs.SetRequireStopWindows(false);
  EXPECT_TRUE(runs.Create(plan, "carol").ok()) << "off by default: accepted";
}

}  // namespace
}  // namespace cit::dispatch
