// The [rules] section of the server config (monitor/rule_policy_config.h): defaults, every key,
// and refusals that name the key.
#include "dispatch-server/monitor/rule_policy_config.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

absl::StatusOr<RulePolicy> Parse(const std::string& text) {
  return RulePolicyFromConfig(toml::parse(text));
}

TEST(RulePolicyConfigTest, WithoutTheSectionTheDocumentedDefaultsApply) {
  absl::StatusOr<RulePolicy> p = Parse("[log]\nlevel = \"info\"\n");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->deviation.half_width_steps, (std::vector<double>{2, 10}));
  EXPECT_EQ(p->deviation.distance_steps_m, (std::vector<double>{1000}));
  EXPECT_EQ(p->deviation.critical_m, 1000);
  EXPECT_EQ(p->deviation.critical_s, 300);
}

TEST(RulePolicyConfigTest, EveryKeyIsReadIntegersAndFloatsAlike) {
  absl::StatusOr<RulePolicy> p = Parse(
      "[rules]\ndeviation_escalation_half_widths = [3, 7.5]\ndeviation_escalation_m = []\n"
      "deviation_critical_m = 2500.5\ndeviation_critical_s = 600\n");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->deviation.half_width_steps, (std::vector<double>{3, 7.5}));
  EXPECT_TRUE(p->deviation.distance_steps_m.empty());
  EXPECT_EQ(p->deviation.critical_m, 2500.5);
  EXPECT_EQ(p->deviation.critical_s, 600);
}

TEST(RulePolicyConfigTest, TheShippedConfigFileParses) {
  const std::string text =
      cit::test::ReadFile(cit::test::SourcePath("deploy/dispatch-server.toml"));
  ASSERT_FALSE(text.empty());
  absl::StatusOr<RulePolicy> p = Parse(text);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->deviation.half_width_steps, (std::vector<double>{2, 10}));
}

TEST(RulePolicyConfigTest, BadValuesAreRefusedNamingTheKey) {
  const std::pair<std::string, std::string> cases[] = {
      {"deviation_escalation_m = 1000", "rules.deviation_escalation_m: must be a list"},
      {"deviation_escalation_m = [1000, -5]", "rules.deviation_escalation_m: must be a positive"},
      {"deviation_escalation_half_widths = [\"2\"]", "rules.deviation_escalation_half_widths"},
      {"deviation_critical_s = 0", "rules.deviation_critical_s: must be a positive"},
      {"deviation_critical_m = nan", "rules.deviation_critical_m: must be a positive"},
      {"deviation_escalation_m = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]", "at most 16"},
      {"deviation_escalation = [2]", "rules.deviation_escalation: unknown key"},
  };
  for (const auto& [line, message] : cases) {
    absl::StatusOr<RulePolicy> p = Parse("[rules]\n" + line + "\n");
    ASSERT_FALSE(p.ok()) << line;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << line;
    EXPECT_NE(p.status().message().find(message), std::string::npos) << p.status();
  }
  EXPECT_FALSE(Parse("rules = 3\n").ok());
}

}  // namespace
}  // namespace cit::dispatch
