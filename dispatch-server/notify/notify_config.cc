#include "dispatch-server/notify/notify_config.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cit::dispatch {
namespace {

// Reads one TOML table, refusing keys it was not asked about; the first error wins.
class Reader {
 public:
  Reader(const toml::table& table, std::string where) : table_(table), where_(std::move(where)) {}

  bool Has(const std::string& key) {
    known_.insert(std::string(key));
    return table_.contains(key);
  }
  void String(const std::string& key, std::string* out) {
    if (!Has(key)) return;
    if (auto v = table_[key].value_exact<std::string>()) {
      *out = *v;
    } else {
      Fail(key, "must be a string");
    }
  }
  void Path(const std::string& key, std::filesystem::path* out, const std::filesystem::path& base) {
    std::string s;
    String(key, &s);
    if (s.empty()) return;
    std::filesystem::path p(s);
    *out = p.is_relative() && !base.empty() ? base / p : p;
  }
  void Bool(const std::string& key, bool* out) {
    if (!Has(key)) return;
    if (auto v = table_[key].value_exact<bool>()) {
      *out = *v;
    } else {
      Fail(key, "must be true or false");
    }
  }
  // A non-negative integer no larger than `max`.
  void Int(const std::string& key, int64_t* out, int64_t min, int64_t max) {
    if (!Has(key)) return;
    auto v = table_[key].value_exact<int64_t>();
    if (!v || *v < min || *v > max) {
      Fail(key, absl::StrCat("must be an integer from ", min, " to ", max));
      return;
    }
    *out = *v;
  }
  void Strings(const std::string& key, std::vector<std::string>* out) {
    if (!Has(key)) return;
    const toml::array* a = table_[key].as_array();
    if (a == nullptr) return Fail(key, "must be a list of strings");
    for (const toml::node& n : *a) {
      auto v = n.value_exact<std::string>();
      if (!v) return Fail(key, "must be a list of strings");
      out->push_back(*v);
    }
  }
  const toml::array* Tables(const std::string& key) {
    if (!Has(key)) return nullptr;
    const toml::array* a = table_[key].as_array();
    if (a == nullptr || !a->is_array_of_tables()) {
      Fail(key, absl::StrCat("must be an array of tables ([[", where_, ".", key, "]])"));
      return nullptr;
    }
    return a;
  }
  void Fail(const std::string& key, const std::string& problem) {
    if (error_.ok())
      error_ = absl::InvalidArgumentError(absl::StrCat(where_, ".", key, " ", problem));
  }
  absl::Status Finish() {
    if (!error_.ok()) return error_;
    for (const auto& [k, v] : table_) {
      if (known_.count(std::string(k.str())) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown key ", where_, ".", std::string(k.str()),
                         " (known: ", absl::StrJoin(known_, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }
  const std::string& where() const { return where_; }

 private:
  const toml::table& table_;
  std::string where_;
  std::set<std::string> known_;
  absl::Status error_;
};

template <typename T>
absl::StatusOr<std::vector<T>> ParseAll(const std::vector<std::string>& names,
                                        absl::StatusOr<T> (*parse)(const std::string&),
                                        const std::string& where) {
  std::vector<T> out;
  for (const std::string& n : names) {
    absl::StatusOr<T> v = parse(n);
    if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", v.status().message()));
    out.push_back(*v);
  }
  return out;
}

absl::StatusOr<NotifyTarget> ParseTarget(const toml::table& t, std::string where,
                                         const std::filesystem::path& base) {
  NotifyTarget target;
  Reader r(t, where);
  r.String("name", &target.name);
  std::string channel;
  r.String("channel", &channel);
  int64_t timeout_ms = target.timeout.count();
  r.Int("timeout_ms", &timeout_ms, 1, 600'000);
  target.timeout = std::chrono::milliseconds(timeout_ms);
  std::vector<std::string> kinds;
  r.Strings("kinds", &kinds);
  std::string min_severity;
  r.String("min_severity", &min_severity);
  r.Strings("vehicles", &target.filter.vehicles);
  r.String("url", &target.url);
  r.Path("secret_file", &target.secret_file, base);
  r.Bool("starttls", &target.starttls);
  r.Path("ca_file", &target.ca_file, base);
  r.String("from", &target.from);
  r.Strings("to", &target.to);
  r.String("username", &target.username);
  r.Path("password_file", &target.password_file, base);
  r.Strings("argv", &target.argv);
  if (absl::Status s = r.Finish(); !s.ok()) return s;

  if (target.name.empty()) return absl::InvalidArgumentError(where + ".name is required");
  where = absl::StrCat(where, " (", target.name, ")");
  auto need = [&](bool ok, const std::string& what) {
    return ok ? absl::OkStatus() : absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
  };
  absl::StatusOr<std::vector<cit::v1::AlertKind>> k =
      ParseAll<cit::v1::AlertKind>(kinds, &ParseAlertKind, where + ".kinds");
  if (!k.ok()) return k.status();
  target.filter.kinds = *k;
  if (!min_severity.empty()) {
    absl::StatusOr<cit::v1::Severity> s = ParseSeverity(min_severity);
    if (!s.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".min_severity: ", s.status().message()));
    target.filter.min_severity = *s;
  }
  if (channel == "webhook") {
    target.channel = ChannelKind::kWebhook;
    if (absl::Status s =
            need(target.url.rfind("http://", 0) == 0 || target.url.rfind("https://", 0) == 0,
                 "url = \"https://...\" is required for a webhook");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = need(!target.secret_file.empty(),
                              "secret_file is required for a webhook (the HMAC-SHA256 key)");
        !s.ok()) {
      return s;
    }
  } else if (channel == "email") {
    target.channel = ChannelKind::kEmail;
    if (absl::Status s =
            need(target.url.rfind("smtp://", 0) == 0 || target.url.rfind("smtps://", 0) == 0,
                 "url = \"smtp://host:587\" (or smtps://) is required for email");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = need(!target.from.empty() && !target.to.empty(),
                              "from = \"...\" and to = [\"...\"] are required for email");
        !s.ok()) {
      return s;
    }
  } else if (channel == "exec") {
    target.channel = ChannelKind::kExec;
    if (absl::Status s = need(!target.argv.empty() && !target.argv[0].empty(),
                              "argv = [\"/path/to/program\", ...] is required for exec");
        !s.ok()) {
      return s;
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".channel must be \"webhook\", \"email\" or \"exec\""));
  }
  return target;
}

absl::StatusOr<EscalationPolicy> ParsePolicy(const toml::table& t, const std::string& where,
                                             const NotifyOptions& options) {
  EscalationPolicy policy;
  Reader r(t, where);
  std::vector<std::string> kinds, severities;
  r.Strings("kinds", &kinds);
  r.Strings("severities", &severities);
  const toml::array* steps = r.Tables("steps");
  if (absl::Status s = r.Finish(); !s.ok()) return s;
  absl::StatusOr<std::vector<cit::v1::AlertKind>> k =
      ParseAll<cit::v1::AlertKind>(kinds, &ParseAlertKind, where + ".kinds");
  if (!k.ok()) return k.status();
  policy.kinds = *k;
  absl::StatusOr<std::vector<cit::v1::Severity>> sev =
      ParseAll<cit::v1::Severity>(severities, &ParseSeverity, where + ".severities");
  if (!sev.ok()) return sev.status();
  policy.severities = *sev;
  if (steps == nullptr || steps->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " needs at least one [[escalation.steps]] (after_s, notify)"));
  }
  for (size_t i = 0; i < steps->size(); ++i) {
    const std::string step_where = absl::StrCat(where, ".steps[", i, "]");
    Reader sr(*(*steps)[i].as_table(), step_where);
    EscalationStep step;
    int64_t after_s = 0;
    sr.Int("after_s", &after_s, 0, 7 * 86'400);
    step.after = std::chrono::seconds(after_s);
    sr.Strings("notify", &step.notify);
    std::string raise_to;
    sr.String("raise_to", &raise_to);
    if (absl::Status s = sr.Finish(); !s.ok()) return s;
    if (!raise_to.empty()) {
      absl::StatusOr<cit::v1::Severity> s = ParseSeverity(raise_to);
      if (!s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(step_where, ".raise_to: ", s.status().message()));
      }
      step.raise_to = *s;
    }
    for (const std::string& name : step.notify) {
      if (options.Target(name) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            step_where, ".notify names target \"", name,
            "\" which no [[notify.targets]] defines (check the spelling of its name)"));
      }
    }
    if (step.notify.empty() && step.raise_to == cit::v1::SEVERITY_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat(step_where, " does nothing: give notify = [...] and/or raise_to"));
    }
    if (!policy.steps.empty() && step.after < policy.steps.back().after) {
      return absl::InvalidArgumentError(
          absl::StrCat(step_where,
                       ".after_s is earlier than the step before: list steps in "
                       "time order"));
    }
    policy.steps.push_back(std::move(step));
  }
  return policy;
}

template <typename Enum>
absl::StatusOr<Enum> ParseEnum(const std::string& name, const std::string& prefix,
                               bool (*parse)(const std::string&, Enum*), int min, int max,
                               const std::string& (*name_of)(Enum), const std::string& what) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (upper.rfind(prefix, 0) != 0) upper = absl::StrCat(prefix, upper);
  Enum value{};
  if (parse(upper, &value) && static_cast<int>(value) != 0) return value;
  std::vector<std::string> known;
  for (int v = min + 1; v <= max; ++v) {
    known.push_back(name_of(static_cast<Enum>(v)).substr(prefix.size()));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ", what, " \"", name, "\" (known: ", absl::StrJoin(known, ", "), ")"));
}

}  // namespace

std::string_view ChannelName(ChannelKind kind) {
  switch (kind) {
    case ChannelKind::kWebhook:
      return "webhook";
    case ChannelKind::kEmail:
      return "email";
    case ChannelKind::kExec:
      return "exec";
  }
  return "unknown";
}

absl::StatusOr<cit::v1::AlertKind> ParseAlertKind(const std::string& name) {
  return ParseEnum<cit::v1::AlertKind>(name, "ALERT_KIND_", &cit::v1::AlertKind_Parse,
                                       cit::v1::AlertKind_MIN, cit::v1::AlertKind_MAX,
                                       &cit::v1::AlertKind_Name<cit::v1::AlertKind>, "alert kind");
}

absl::StatusOr<cit::v1::Severity> ParseSeverity(const std::string& name) {
  return ParseEnum<cit::v1::Severity>(name, "SEVERITY_", &cit::v1::Severity_Parse,
                                      cit::v1::Severity_MIN, cit::v1::Severity_MAX,
                                      &cit::v1::Severity_Name<cit::v1::Severity>, "severity");
}

bool TargetFilter::Matches(const cit::v1::Alert& alert) const {
  if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), alert.kind()) == kinds.end()) {
    return false;
  }
  if (alert.severity() < min_severity) return false;
  return vehicles.empty() ||
         std::find(vehicles.begin(), vehicles.end(), alert.vehicle_id()) != vehicles.end();
}

bool EscalationPolicy::Matches(const cit::v1::Alert& alert) const {
  if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), alert.kind()) == kinds.end()) {
    return false;
  }
  return severities.empty() ||
         std::find(severities.begin(), severities.end(), alert.severity()) != severities.end();
}

const NotifyTarget* NotifyOptions::Target(std::string_view name) const {
  for (const NotifyTarget& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const EscalationPolicy* NotifyOptions::PolicyFor(const cit::v1::Alert& alert) const {
  for (const EscalationPolicy& p : escalation) {
    if (p.Matches(alert)) return &p;
  }
  return nullptr;
}

absl::StatusOr<NotifyOptions> NotifyOptionsFromConfig(const toml::table& raw,
                                                      const std::filesystem::path& config_file) {
  NotifyOptions out;
  const std::filesystem::path base = config_file.empty() ? config_file : config_file.parent_path();
  if (const toml::node* n = raw.get("notify")) {
    const toml::table* notify = n->as_table();
    if (notify == nullptr) return absl::InvalidArgumentError("[notify] must be a table");
    Reader r(*notify, "notify");
    int64_t max_pending = static_cast<int64_t>(out.max_pending);
    r.Int("max_pending", &max_pending, 1, 10'000'000);
    int64_t max_attempts = out.max_attempts;
    r.Int("max_attempts", &max_attempts, 1, 1000);
    int64_t retry_base_ms = out.retry_base.count(), retry_max_ms = out.retry_max.count();
    r.Int("retry_base_ms", &retry_base_ms, 1, 3'600'000);
    r.Int("retry_max_ms", &retry_max_ms, 1, 86'400'000);
    int64_t tick_ms = out.tick.count();
    r.Int("tick_ms", &tick_ms, 10, 60'000);
    const toml::array* targets = r.Tables("targets");
    if (absl::Status s = r.Finish(); !s.ok()) return s;
    out.max_pending = static_cast<size_t>(max_pending);
    out.max_attempts = static_cast<uint32_t>(max_attempts);
    out.retry_base = std::chrono::milliseconds(retry_base_ms);
    out.retry_max = std::chrono::milliseconds(std::max(retry_base_ms, retry_max_ms));
    out.tick = std::chrono::milliseconds(tick_ms);
    if (targets != nullptr) {
      for (size_t i = 0; i < targets->size(); ++i) {
        absl::StatusOr<NotifyTarget> t =
            ParseTarget(*(*targets)[i].as_table(), absl::StrCat("notify.targets[", i, "]"), base);
        if (!t.ok()) return t.status();
        if (out.Target(t->name) != nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("notify.targets: two targets are named \"", t->name, "\""));
        }
        out.targets.push_back(*std::move(t));
      }
    }
  }
  if (const toml::node* n = raw.get("escalation")) {
    const toml::array* policies = n->as_array();
    if (policies == nullptr || !policies->is_array_of_tables()) {
      return absl::InvalidArgumentError(
          "escalation must be an array of tables: write [[escalation]] (one per policy)");
    }
    for (size_t i = 0; i < policies->size(); ++i) {
      absl::StatusOr<EscalationPolicy> p =
          ParsePolicy(*(*policies)[i].as_table(), absl::StrCat("escalation[", i, "]"), out);
      if (!p.ok()) return p.status();
      out.escalation.push_back(*std::move(p));
    }
  }
  return out;
}

}  // namespace cit::dispatch
