// Bearer-token authentication and role checks for every RPC on the operator port (DESIGN §9).
//
// gRPC calls the processor for each incoming call on a TLS port before any handler runs; it sees
// the method (":path") and the "authorization: Bearer <token>" header, so one place checks every
// RPC of every operator service, whatever API (callback or sync) the handler uses:
//   missing, malformed or unknown token -> UNAUTHENTICATED
//   more than one authorization header -> UNAUTHENTICATED (which one counts would be ambiguous)
//   known token, role not allowed      -> PERMISSION_DENIED
// Refusals are counted in cit_operator_refusals_total{reason} and logged rate-limited
// (common/refusal_log.h), so wrong-token floods cannot flood the log.
// Handlers learn who called with CallerIdentity(), which authenticates the call's own token
// again (one SHA-256, microseconds). Why not AuthContext properties: gRPC 1.51 hands the
// processor the *connection's* AuthContext, so a property added for one call would be seen by
// every later call on that connection (and two tokens over one connection would mix up names).
//
// Wiring (the server assembly):
//   auto processor = LoadOperatorAuth("/etc/citwatch/operator-tokens.toml", metrics);
//   if (!processor.ok()) return processor.status();
//   builder.SetOperatorAuthProcessor(*processor);      // DispatchServer::Builder
// or, with plain gRPC:  InstallOperatorAuth(*ssl_server_creds, token_file, metrics);
// In a handler:
//   std::optional<OperatorIdentity> who = CallerIdentity(*context);
//
// The processor only runs on secure (TLS) ports: an operator port with insecure credentials has
// no authentication, and CallerIdentity() then returns nullopt, which handlers must refuse.
//
// Thread contract: the processor is immutable and non-blocking; gRPC may call it concurrently.
#ifndef CIT_DISPATCH_SERVER_AUTH_OPERATOR_AUTH_H_
#define CIT_DISPATCH_SERVER_AUTH_OPERATOR_AUTH_H_

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dispatch-server/auth/roles.h"
#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/common/refusal_log.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

class OperatorAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  // `metrics` may be null (no refusal counts).
  OperatorAuthProcessor(std::shared_ptr<const TokenFile> tokens, PermissionTable permissions,
                        std::shared_ptr<MetricsRegistry> metrics = nullptr,
                        RefusalLogOptions log_options = {});

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  enum Reason { kMissing, kMalformed, kUnknown, kDuplicate, kDenied, kReasonCount };
  static const char* ReasonName(Reason r);
  grpc::Status Refuse(Reason reason, std::string_view method, grpc::StatusCode code,
                      std::string message, std::string_view who = {});

  const std::shared_ptr<const TokenFile> tokens_;
  const PermissionTable permissions_;
  const std::shared_ptr<MetricsRegistry> metrics_;  // keeps the counters below alive
  Counter* refusals_[kReasonCount] = {};
  RefusalLog log_;
};

// Loads the token file (empty path: no tokens, every call refused) and makes a processor with the
// default permission table; its tokens become the ones CallerIdentity() checks (one operator token
// file per process). For DispatchServer::Builder::SetOperatorAuthProcessor.
absl::StatusOr<std::shared_ptr<OperatorAuthProcessor>> LoadOperatorAuth(
    const std::filesystem::path& token_file, std::shared_ptr<MetricsRegistry> metrics = nullptr);

// The same for a token file already read (`token_file` only names it in the warning when it
// holds no tokens): the server reads the file once at start-up, for the identity log and the
// processor alike.
std::shared_ptr<OperatorAuthProcessor> MakeOperatorAuth(
    std::shared_ptr<const TokenFile> tokens, const std::filesystem::path& token_file,
    std::shared_ptr<MetricsRegistry> metrics = nullptr);

// LoadOperatorAuth, then sets the processor on `creds`.
absl::Status InstallOperatorAuth(grpc::ServerCredentials& creds,
                                 const std::filesystem::path& token_file,
                                 std::shared_ptr<MetricsRegistry> metrics = nullptr);

// The caller of the current RPC, from its own bearer token; nullopt when it carries none (or
// more than one) that the installed token file knows (public method, or no auth installed: an
// insecure port).
std::optional<OperatorIdentity> CallerIdentity(const grpc::ServerContextBase& context);

// The name to record as actor of a change; "anonymous" when the call carried no identity.
std::string ActorName(const grpc::ServerContextBase& context);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUTH_OPERATOR_AUTH_H_
