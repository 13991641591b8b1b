// dispatch-server configuration: one TOML file (DESIGN §10), every key defaulted, overridden by
// command-line flags in main.cc. deploy/dispatch-server.toml lists every key with its default.
//
//   absl::StatusOr<ServerConfig> cfg = LoadServerConfig("/etc/citwatch/dispatch-server.toml");
//   if (!cfg.ok()) { std::cerr << cfg.status() << "\n"; return 2; }
//   DispatchServer::Builder builder(cfg->server);
//   const toml::table& monitor_section = *cfg->raw["monitor"].as_table();  // other components
//
// Sections read here: [telemetry] [operator] [metrics] [tls] [store] [ingest] [server] [log].
// An unknown key in one of them is an error (a typo must not silently fall back to a default);
// other sections belong to other components and are left in `raw` for them. Relative file paths
// are resolved against the config file's directory.
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_CONFIG_CONFIG_H_
#define CIT_DISPATCH_CONFIG_CONFIG_H_

#include <toml++/toml.h>

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "dispatch-server/server/dispatch_server.h"

namespace cit::dispatch {

struct ServerConfig {
  DispatchServerOptions server;
  // spdlog level name: trace, debug, info, warn, error, critical, off.
  std::string log_level = "info";
  // The whole parsed file (empty when no file was given).
  toml::table raw;
  // The file it came from (empty for defaults).
  std::filesystem::path source;
};

// Parses `file` (empty path: defaults only). INVALID_ARGUMENT names the key and the problem.
absl::StatusOr<ServerConfig> LoadServerConfig(const std::filesystem::path& file);
absl::StatusOr<ServerConfig> ParseServerConfig(std::string_view toml_text,
                                               const std::filesystem::path& base_dir);

// Checks values and that the TLS files are readable: what --check-config reports.
absl::Status ValidateServerConfig(const ServerConfig& config);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_CONFIG_CONFIG_H_
