#include "dispatch-server/notify/notifier.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "dispatch-server/common/text_file.h"
#include "dispatch-server/notify/email_channel.h"
#include "dispatch-server/notify/exec_channel.h"
#include "dispatch-server/notify/sqlite_outbox.h"
#include "dispatch-server/notify/webhook_channel.h"

namespace cit::dispatch {
namespace {

absl::StatusOr<std::string> ReadSecret(const NotifyTarget& target, const char* key,
                                       const std::filesystem::path& file) {
  absl::StatusOr<std::string> text = ReadTextFile(file);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("notify target \"", target.name, "\" ", key, ": ", text.status().message()));
  }
  std::string secret(absl::StripTrailingAsciiWhitespace(*text));
  if (secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("notify target \"", target.name, "\" ", key,
                                                   ": ", file.string(), " is empty"));
  }
  return secret;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Channel>> MakeChannel(const NotifyTarget& target) {
  switch (target.channel) {
    case ChannelKind::kWebhook: {
      absl::StatusOr<std::string> secret = ReadSecret(target, "secret_file", target.secret_file);
      if (!secret.ok()) return secret.status();
      return std::make_unique<WebhookChannel>(target.url, *secret, target.timeout);
    }
    case ChannelKind::kEmail: {
      std::string password;
      if (!target.password_file.empty()) {
        absl::StatusOr<std::string> p = ReadSecret(target, "password_file", target.password_file);
        if (!p.ok()) return p.status();
        password = *p;
      }
      return std::make_unique<EmailChannel>(target, password);
    }
    case ChannelKind::kExec:
      return std::make_unique<ExecChannel>(target.argv, target.timeout);
  }
  return absl::InvalidArgumentError("unknown channel");
}

std::chrono::milliseconds OutboxClaimDuration(const NotifyOptions& options) {
  std::chrono::milliseconds longest(0);
  for (const NotifyTarget& t : options.targets) longest = std::max(longest, t.timeout);
  // Twice the timeout and 2 s: an attempt and its mark, with room for a slow database.
  return 2 * longest + std::chrono::seconds(2);
}

absl::StatusOr<std::unique_ptr<Notifier>> Notifier::Open(
    NotifyOptions options, const std::filesystem::path& database_path, AlertManager* alerts,
    const Clock* clock, std::shared_ptr<MetricsRegistry> registry) {
  absl::StatusOr<std::unique_ptr<SqliteOutbox>> outbox =
      SqliteOutbox::Open(database_path, options.max_pending);
  if (!outbox.ok()) return outbox.status();
  return Open(std::move(options), *std::move(outbox), alerts, clock, std::move(registry));
}

absl::StatusOr<std::unique_ptr<Notifier>> Notifier::Open(
    NotifyOptions options, std::unique_ptr<Outbox> outbox, AlertManager* alerts, const Clock* clock,
    std::shared_ptr<MetricsRegistry> registry) {
  static const CURLcode curl_init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (curl_init != CURLE_OK) return absl::InternalError("curl_global_init failed");
  std::unique_ptr<Notifier> n(new Notifier());
  n->options_ = std::move(options);
  std::map<std::string, std::unique_ptr<Channel>> channels;
  for (const NotifyTarget& t : n->options_.targets) {
    absl::StatusOr<std::unique_ptr<Channel>> c = MakeChannel(t);
    if (!c.ok()) return c.status();
    channels.emplace(t.name, *std::move(c));
  }
  n->metrics_ = std::make_unique<NotifyMetrics>(std::move(registry));
  n->outbox_ = std::move(outbox);
  n->worker_ = std::make_unique<DeliveryWorker>(n->outbox_.get(), std::move(channels), n->options_,
                                                n->metrics_.get());
  DeliveryWorker* worker = n->worker_.get();
  n->escalator_ = std::make_unique<Escalator>(alerts, &n->options_, n->outbox_.get(), clock,
                                              n->metrics_.get(), [worker] { worker->Wake(); });
  return n;
}

Notifier::~Notifier() { Stop(); }

void Notifier::SetEscalationLease(std::unique_ptr<EscalationLease> lease,
                                  std::chrono::milliseconds renew_every) {
  lease_ = std::move(lease);
  escalator_->SetLease(lease_.get(), renew_every);
}

void Notifier::Start() {
  absl::StatusOr<uint64_t> pending = outbox_->CountState("pending");
  spdlog::info("event=notifier_started targets={} policies={} pending={}", options_.targets.size(),
               options_.escalation.size(), pending.ok() ? static_cast<int64_t>(*pending) : -1);
  worker_->Start();
  escalator_->Start();
}

void Notifier::Stop() {
  if (escalator_) escalator_->Stop();
  if (worker_) worker_->Stop();
}

}  // namespace cit::dispatch
