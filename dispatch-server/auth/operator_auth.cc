#include "dispatch-server/auth/operator_auth.h"

#include <spdlog/spdlog.h>

#include <iterator>
#include <mutex>
#include <string_view>
#include <utility>

namespace cit::dispatch {
namespace {

std::string_view View(const grpc::string_ref& s) { return {s.data(), s.size()}; }

// "Bearer <token>" (scheme case-insensitive, RFC 6750) -> token; empty when malformed.
std::string_view BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::mutex installed_mu;
std::shared_ptr<const TokenFile> installed_tokens;  // guarded by installed_mu

std::shared_ptr<const TokenFile> InstalledTokens() {
  std::lock_guard<std::mutex> lock(installed_mu);
  return installed_tokens;
}

}  // namespace

OperatorAuthProcessor::OperatorAuthProcessor(std::shared_ptr<const TokenFile> tokens,
                                             PermissionTable permissions,
                                             std::shared_ptr<MetricsRegistry> metrics,
                                             RefusalLogOptions log_options)
    : tokens_(std::move(tokens)),
      permissions_(std::move(permissions)),
      metrics_(std::move(metrics)),
      log_("operator_auth", log_options) {
  if (!metrics_) return;
  for (int r = 0; r < kReasonCount; ++r) {
    refusals_[r] = &metrics_->GetCounter(
        "cit_operator_refusals_total",
        "Operator-port calls refused by the bearer-token and role check, by reason",
        {{"reason", ReasonName(static_cast<Reason>(r))}});
  }
}

const char* OperatorAuthProcessor::ReasonName(Reason r) {
  switch (r) {
    case kMissing:
      return "missing_token";
    case kMalformed:
      return "malformed_header";
    case kUnknown:
      return "unknown_token";
    case kDuplicate:
      return "duplicate_authorization";
    case kDenied:
      return "permission_denied";
    case kReasonCount:
      break;
  }
  return "unknown";
}

grpc::Status OperatorAuthProcessor::Refuse(Reason reason, std::string_view method,
                                           grpc::StatusCode code, std::string message,
                                           std::string_view who) {
  if (refusals_[reason] != nullptr) refusals_[reason]->Increment();
  if (log_.Admit(ReasonName(reason))) {
    spdlog::warn("event=operator_call_refused reason={} method={} caller={} detail=\"{}\"",
                 ReasonName(reason), method.substr(0, 128), who.empty() ? "-" : who, message);
  }
  return {code, std::move(message)};
}

grpc::Status OperatorAuthProcessor::Process(const InputMetadata& auth_metadata,
                                            grpc::AuthContext* /*context*/,
                                            OutputMetadata* /*consumed_auth_metadata*/,
                                            OutputMetadata* /*response_metadata*/) {
  std::string_view method;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) method = View(it->second);

  const auto [first, last] = auth_metadata.equal_range("authorization");
  if (first != last && std::next(first) != last) {
    return Refuse(kDuplicate, method, grpc::StatusCode::UNAUTHENTICATED,
                  "more than one authorization header; send exactly one "
                  "\"authorization: Bearer <token>\"");
  }
  std::optional<OperatorIdentity> who;
  Reason failure = kMissing;
  if (first != last) {
    // Left in the call's metadata: CallerIdentity() needs it. Handlers never log metadata.
    const std::string_view token = BearerToken(View(first->second));
    failure = token.empty() ? kMalformed : kUnknown;
    if (!token.empty()) who = tokens_->Authenticate(token);
  }
  if (!who) {
    if (permissions_.IsPublic(method)) return grpc::Status::OK;
    return Refuse(failure, method, grpc::StatusCode::UNAUTHENTICATED,
                  "missing or unknown bearer token; send \"authorization: Bearer <token>\"");
  }
  if (!permissions_.Allows(method, who->role)) {
    return Refuse(
        kDenied, method, grpc::StatusCode::PERMISSION_DENIED,
        "role " + std::string(RoleName(who->role)) + " may not call " + std::string(method),
        who->name);
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<OperatorAuthProcessor>> LoadOperatorAuth(
    const std::filesystem::path& token_file, std::shared_ptr<MetricsRegistry> metrics) {
  absl::StatusOr<TokenFile> tokens =
      token_file.empty() ? absl::StatusOr<TokenFile>(TokenFile()) : TokenFile::Load(token_file);
  if (!tokens.ok()) return tokens.status();
  return MakeOperatorAuth(std::make_shared<const TokenFile>(*std::move(tokens)), token_file,
                          std::move(metrics));
}

std::shared_ptr<OperatorAuthProcessor> MakeOperatorAuth(std::shared_ptr<const TokenFile> shared,
                                                        const std::filesystem::path& token_file,
                                                        std::shared_ptr<MetricsRegistry> metrics) {
  if (shared->entries().empty()) {
    spdlog::warn("operator auth: no operator tokens ({}); every operator call will be refused",
                 token_file.empty() ? "no [auth] tokens file configured" : token_file.string());
  }
  {
    std::lock_guard<std::mutex> lock(installed_mu);
    installed_tokens = shared;
  }
  return std::make_shared<OperatorAuthProcessor>(shared, PermissionTable::Default(),
                                                 std::move(metrics));
}

absl::Status InstallOperatorAuth(grpc::ServerCredentials& creds,
                                 const std::filesystem::path& token_file,
                                 std::shared_ptr<MetricsRegistry> metrics) {
  absl::StatusOr<std::shared_ptr<OperatorAuthProcessor>> processor =
      LoadOperatorAuth(token_file, std::move(metrics));
  if (!processor.ok()) return processor.status();
  creds.SetAuthMetadataProcessor(*std::move(processor));
  return absl::OkStatus();
}

std::optional<OperatorIdentity> CallerIdentity(const grpc::ServerContextBase& context) {
  std::shared_ptr<const TokenFile> tokens = InstalledTokens();
  if (!tokens) return std::nullopt;
  const auto& md = context.client_metadata();
  auto [it, last] = md.equal_range("authorization");
  if (it == last || std::next(it) != last) return std::nullopt;  // none, or ambiguous
  return tokens->Authenticate(BearerToken(View(it->second)));
}

std::string ActorName(const grpc::ServerContextBase& context) {
  std::optional<OperatorIdentity> who = CallerIdentity(context);
  return who ? who->name : "anonymous";
}

}  // namespace cit::dispatch
