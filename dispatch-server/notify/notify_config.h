// The escalation policy ([[escalation]]) and the notification targets ([notify],
// [[notify.targets]]) of dispatch-server's config file; docs/alerts.md has a full example.
//
//   absl::StatusOr<NotifyOptions> n = NotifyOptionsFromConfig(cfg->raw, cfg->source);
//
// Unknown keys, unknown kinds/severities/channels, a step naming a target that does not exist
// and steps out of time order are refused with the key and what to write instead. Relative
// file paths (secret_file, password_file, ca_file) are resolved against the config file's
// directory; the files themselves are read when the server starts (notify/notifier.h).
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_NOTIFY_CONFIG_H_
#define CIT_DISPATCH_SERVER_NOTIFY_NOTIFY_CONFIG_H_

#include <toml++/toml.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

enum class ChannelKind { kWebhook, kEmail, kExec };
std::string_view ChannelName(ChannelKind kind);

// Which alerts a target wants; an empty list means "all".
struct TargetFilter {
  std::vector<cit::v1::AlertKind> kinds;
  cit::v1::Severity min_severity = cit::v1::SEVERITY_UNSPECIFIED;
  // Vehicle ids (citwatch has no vehicle groups yet: a target lists the vehicles it covers).
  std::vector<std::string> vehicles;
  bool Matches(const cit::v1::Alert& alert) const;
};

struct NotifyTarget {
  std::string name;
  ChannelKind channel = ChannelKind::kWebhook;
  TargetFilter filter;
  std::chrono::milliseconds timeout{5000};
  // webhook: http(s) URL; email: smtp:// or smtps:// URL of the mail server.
  std::string url;
  // webhook: file holding the HMAC-SHA256 secret (trailing newline ignored). Required.
  std::filesystem::path secret_file;
  // email
  bool starttls = true;           // require STARTTLS on smtp:// (refuse to send in clear)
  std::filesystem::path ca_file;  // empty: the system's trust store
  std::string from;
  std::vector<std::string> to;
  std::string username;
  std::filesystem::path password_file;
  // exec: program and arguments, run directly (never through a shell).
  std::vector<std::string> argv;
};

struct EscalationStep {
  std::chrono::seconds after{0};    // since the alert was raised, not acknowledged meanwhile
  std::vector<std::string> notify;  // target names
  cit::v1::Severity raise_to = cit::v1::SEVERITY_UNSPECIFIED;  // UNSPECIFIED: unchanged
};

struct EscalationPolicy {
  std::vector<cit::v1::AlertKind> kinds;      // empty: every kind
  std::vector<cit::v1::Severity> severities;  // empty: every severity
  std::vector<EscalationStep> steps;          // ascending `after`
  bool Matches(const cit::v1::Alert& alert) const;
};

struct NotifyOptions {
  std::vector<NotifyTarget> targets;
  std::vector<EscalationPolicy> escalation;
  // Outbox bound: notifications waiting for delivery beyond this are refused (logged, counted).
  size_t max_pending = 10'000;
  // Delivery attempts before a notification is marked failed.
  uint32_t max_attempts = 8;
  std::chrono::milliseconds retry_base{1000};  // doubled after each failed attempt
  std::chrono::milliseconds retry_max{300'000};
  // How often open alerts are checked against the policy.
  std::chrono::milliseconds tick{1000};
  bool enabled() const { return !targets.empty() || !escalation.empty(); }
  const NotifyTarget* Target(std::string_view name) const;
  // The first policy matching the alert (file order), or nullptr.
  const EscalationPolicy* PolicyFor(const cit::v1::Alert& alert) const;
};

absl::StatusOr<NotifyOptions> NotifyOptionsFromConfig(const toml::table& raw,
                                                      const std::filesystem::path& config_file);

// "PANIC" or "ALERT_KIND_PANIC" (any case); "HIGH" or "SEVERITY_HIGH".
absl::StatusOr<cit::v1::AlertKind> ParseAlertKind(const std::string& name);
absl::StatusOr<cit::v1::Severity> ParseSeverity(const std::string& name);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_NOTIFY_CONFIG_H_
