// The [http] section of dispatch-server's config file (the operator HTTP API and web console).
// deploy/dispatch-server.toml lists every key with its default.
//
//   absl::StatusOr<HttpOptions> http = HttpOptionsFromConfig(cfg.raw, cfg.source, cfg.server.tls);
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_SERVER_HTTP_HTTP_CONFIG_H_
#define CIT_DISPATCH_SERVER_HTTP_HTTP_CONFIG_H_

#include <toml++/toml.h>

#include <filesystem>

#include "absl/status/statusor.h"
#include "dispatch-server/http/http_options.h"

namespace cit::dispatch {

// Reads [http] from `raw`; relative paths resolve against `config_file`'s directory;
// loopback_ca defaults to `tls_ca`. INVALID_ARGUMENT names an unknown key or a bad value.
absl::StatusOr<HttpOptions> HttpOptionsFromConfig(const toml::table& raw,
                                                  const std::filesystem::path& config_file,
                                                  const std::filesystem::path& tls_ca);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_HTTP_CONFIG_H_
