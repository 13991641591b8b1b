// The [auth] section of dispatch-server's config file (the operator token file).
//
//   [auth]
//   tokens = "operator-tokens.toml"   # relative to the config file; see
//                                     # deploy/operator-tokens.example
//
//   absl::StatusOr<std::filesystem::path> tokens = OperatorTokensPath(cfg.raw, cfg.source);
//   builder.ConfigureOperatorCredentials([path = *tokens](grpc::ServerCredentials& creds) {
//     return InstallOperatorAuth(creds, path);
//   });
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_SERVER_AUTH_AUTH_CONFIG_H_
#define CIT_DISPATCH_SERVER_AUTH_AUTH_CONFIG_H_

#include <toml++/toml.h>

#include <filesystem>

#include "absl/status/statusor.h"

namespace cit::dispatch {

// auth.tokens resolved against the directory of `config_file`; an empty path when there is no
// auth.tokens key (the operator port then admits nobody); INVALID_ARGUMENT for unknown keys.
absl::StatusOr<std::filesystem::path> OperatorTokensPath(const toml::table& raw,
                                                         const std::filesystem::path& config_file);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUTH_AUTH_CONFIG_H_
