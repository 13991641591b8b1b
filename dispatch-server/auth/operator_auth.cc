#include "dispatch-server/auth/operator_auth.h"

#include <spdlog/spdlog.h>

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

}  // namespace

OperatorAuthProcessor::OperatorAuthProcessor(TokenFile tokens, PermissionTable permissions)
    : tokens_(std::move(tokens)), permissions_(std::move(permissions)) {}

grpc::Status OperatorAuthProcessor::Process(const InputMetadata& auth_metadata,
                                            grpc::AuthContext* context,
                                            OutputMetadata* consumed_auth_metadata,
                                            OutputMetadata* /*response_metadata*/) {
  std::string_view method;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) method = View(it->second);

  std::optional<OperatorIdentity> who;
  if (auto it = auth_metadata.find("authorization"); it != auth_metadata.end()) {
    who = tokens_.Authenticate(BearerToken(View(it->second)));
    // The token is a secret: keep it out of the metadata handlers (and their logs) see.
    consumed_auth_metadata->insert({"authorization", std::string(View(it->second))});
  }
  if (!who) {
    if (permissions_.IsPublic(method)) return grpc::Status::OK;
    spdlog::warn("operator auth: refused {}: missing or unknown bearer token", method);
    return {grpc::StatusCode::UNAUTHENTICATED, "missing or unknown bearer token"};
  }
  if (!permissions_.Allows(method, who->role)) {
    spdlog::warn("operator auth: {} ({}) may not call {}", who->name, RoleName(who->role), method);
    return {grpc::StatusCode::PERMISSION_DENIED,
            "role " + std::string(RoleName(who->role)) + " may not call " + std::string(method)};
  }
  context->AddProperty(kOperatorNameProperty, who->name);
  context->AddProperty(kOperatorRoleProperty, std::string(RoleName(who->role)));
  return grpc::Status::OK;
}

absl::Status InstallOperatorAuth(grpc::ServerCredentials& creds,
                                 const std::filesystem::path& token_file) {
  absl::StatusOr<TokenFile> tokens = TokenFile::Load(token_file);
  if (!tokens.ok()) return tokens.status();
  if (tokens->entries().empty()) {
    spdlog::warn("operator auth: {} lists no tokens; every operator call will be refused",
                 token_file.string());
  }
  creds.SetAuthMetadataProcessor(
      std::make_shared<OperatorAuthProcessor>(*std::move(tokens), PermissionTable::Default()));
  return absl::OkStatus();
}

std::optional<OperatorIdentity> CallerIdentity(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth) return std::nullopt;
  auto names = auth->FindPropertyValues(kOperatorNameProperty);
  auto roles = auth->FindPropertyValues(kOperatorRoleProperty);
  if (names.empty() || roles.empty()) return std::nullopt;
  std::optional<Role> role = ParseRole(View(roles.front()));
  if (!role) return std::nullopt;
  return OperatorIdentity{std::string(View(names.front())), *role};
}

std::string ActorName(const grpc::ServerContextBase& context) {
  std::optional<OperatorIdentity> who = CallerIdentity(context);
  return who ? who->name : "anonymous";
}

}  // namespace cit::dispatch
