// The [audit] section of dispatch-server's config file: the checkpoint signing key and interval.
//
//   [audit]
//   signing_key = "checkpoint-key.pem"   # Ed25519 PKCS#8 PEM, relative to the config file
//   checkpoint_interval_s = 300
//
//   absl::StatusOr<AuditOptions> audit = AuditOptionsFromConfig(cfg.raw, cfg.source);
//   absl::StatusOr<CheckpointKey> key = LoadSigningKey(*audit, opts.database_path);
//
// Without signing_key the server uses <database>.checkpoint-key.pem beside the database,
// generating it (mode 0600) and its public half <database>.checkpoint-key.pub.pem on the first
// start, and logs where they are: checkpoints are always signed. A configured key that cannot be
// read or is not Ed25519 stops the server with an error naming the file.
//
// Thread contract: pure functions (LoadSigningKey writes the generated key files).
#ifndef CIT_DISPATCH_SERVER_AUDIT_AUDIT_CONFIG_H_
#define CIT_DISPATCH_SERVER_AUDIT_AUDIT_CONFIG_H_

#include <toml++/toml.h>

#include <chrono>
#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/audit/checkpoint_key.h"

namespace cit::dispatch {

struct AuditOptions {
  // Empty: the generated key beside the database.
  std::filesystem::path signing_key;
  std::chrono::milliseconds checkpoint_interval{std::chrono::seconds(300)};
  // The public keys (PEM files) of the other instances sharing the PostgreSQL database: their
  // checkpoints, in the one shared chain, verify only with one of these (or this server's key).
  std::vector<std::filesystem::path> instance_keys;
};

// INVALID_ARGUMENT names the key for unknown keys and bad values.
absl::StatusOr<AuditOptions> AuditOptionsFromConfig(const toml::table& raw,
                                                    const std::filesystem::path& config_file);

// The configured key, or the generated one beside `database_path` (see above).
absl::StatusOr<CheckpointKey> LoadSigningKey(const AuditOptions& options,
                                             const std::filesystem::path& database_path);

// The keys of `options.instance_keys`; errors name audit.instance_keys and the file.
absl::StatusOr<std::vector<CheckpointKey>> LoadInstanceKeys(const AuditOptions& options);

// Where the generated key lives for a database file.
std::filesystem::path DefaultSigningKeyPath(const std::filesystem::path& database_path);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_AUDIT_CONFIG_H_
