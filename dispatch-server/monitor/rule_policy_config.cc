#include "dispatch-server/monitor/rule_policy_config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cit::dispatch {
namespace {

absl::Status NotPositive(const std::string& key) {
  return absl::InvalidArgumentError(
      absl::StrCat("rules.", key, ": must be a positive number (see docs/alerts.md)"));
}

// Integers and floats alike: "1000" and "1000.0" mean the same distance.
std::optional<double> Positive(const toml::node& n) {
  std::optional<double> v = n.value<double>();
  if (!v || !std::isfinite(*v) || *v <= 0) return std::nullopt;
  return v;
}

absl::Status ReadNumber(const toml::table& t, const std::string& key, double* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return absl::OkStatus();
  std::optional<double> v = Positive(*n);
  if (!v) return NotPositive(key);
  *out = *v;
  return absl::OkStatus();
}

absl::Status ReadSteps(const toml::table& t, const std::string& key, std::vector<double>* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return absl::OkStatus();
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("rules.", key, ": must be a list of positive numbers, e.g. [2, 10]"));
  }
  if (a->size() > kMaxEscalationSteps) {
    return absl::InvalidArgumentError(
        absl::StrCat("rules.", key, ": at most ", kMaxEscalationSteps, " steps"));
  }
  std::vector<double> steps;
  for (const toml::node& e : *a) {
    std::optional<double> v = Positive(e);
    if (!v) return NotPositive(key);
    steps.push_back(*v);
  }
  *out = std::move(steps);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RulePolicy> RulePolicyFromConfig(const toml::table& raw) {
  RulePolicy out;
  const toml::node* section = raw.get("rules");
  if (section == nullptr) return out;
  const toml::table* t = section->as_table();
  if (t == nullptr) return absl::InvalidArgumentError("[rules] must be a table");
  static const std::vector<std::string> kKeys = {"deviation_escalation_half_widths",
                                                 "deviation_escalation_m", "deviation_critical_m",
                                                 "deviation_critical_s"};
  for (const auto& [key, value] : *t) {
    const std::string name(key.str());
    if (std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules.", name, ": unknown key (known: ", absl::StrJoin(kKeys, ", "), ")"));
    }
  }
  DeviationPolicy& d = out.deviation;
  if (absl::Status s = ReadSteps(*t, kKeys[0], &d.half_width_steps); !s.ok()) return s;
  if (absl::Status s = ReadSteps(*t, kKeys[1], &d.distance_steps_m); !s.ok()) return s;
  if (absl::Status s = ReadNumber(*t, kKeys[2], &d.critical_m); !s.ok()) return s;
  if (absl::Status s = ReadNumber(*t, kKeys[3], &d.critical_s); !s.ok()) return s;
  return out;
}

}  // namespace cit::dispatch
