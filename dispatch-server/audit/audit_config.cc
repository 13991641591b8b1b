#include "dispatch-server/audit/audit_config.h"

#include <spdlog/spdlog.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "geo/input_limits.h"

namespace cit::dispatch {

absl::StatusOr<AuditOptions> AuditOptionsFromConfig(const toml::table& raw,
                                                    const std::filesystem::path& config_file) {
  AuditOptions out;
  const toml::table* audit = raw["audit"].as_table();
  if (audit == nullptr) return out;
  for (const auto& [key, value] : *audit) {
    if (key.str() != "signing_key" && key.str() != "checkpoint_interval_s" &&
        key.str() != "instance_keys") {
      return absl::InvalidArgumentError("audit." + std::string(key.str()) + ": unknown key");
    }
  }
  if (audit->contains("signing_key")) {
    std::optional<std::string> file = (*audit)["signing_key"].value<std::string>();
    if (!file || file->empty()) {
      return absl::InvalidArgumentError("audit.signing_key: must be a file name");
    }
    out.signing_key = *file;
    if (out.signing_key.is_relative() && !config_file.empty()) {
      out.signing_key = config_file.parent_path() / out.signing_key;
    }
  }
  if (audit->contains("instance_keys")) {
    const toml::array* files = (*audit)["instance_keys"].as_array();
    if (files == nullptr || files->size() > 256) {
      return absl::InvalidArgumentError(
          "audit.instance_keys: must be a list of at most 256 public key files");
    }
    for (const toml::node& n : *files) {
      std::optional<std::string> file = n.value<std::string>();
      if (!file || file->empty()) {
        return absl::InvalidArgumentError("audit.instance_keys: each must be a file name");
      }
      std::filesystem::path path = *file;
      if (path.is_relative() && !config_file.empty()) path = config_file.parent_path() / path;
      out.instance_keys.push_back(std::move(path));
    }
  }
  if (audit->contains("checkpoint_interval_s")) {
    std::optional<double> s = (*audit)["checkpoint_interval_s"].value<double>();
    if (!s || !(*s >= 0.1 && *s <= 86400)) {
      return absl::InvalidArgumentError("audit.checkpoint_interval_s: must be 0.1 .. 86400");
    }
    out.checkpoint_interval = std::chrono::milliseconds(static_cast<int64_t>(*s * 1000));
  }
  return out;
}

std::filesystem::path DefaultSigningKeyPath(const std::filesystem::path& database_path) {
  return std::filesystem::path(database_path.string() + ".checkpoint-key.pem");
}

absl::StatusOr<CheckpointKey> LoadSigningKey(const AuditOptions& options,
                                             const std::filesystem::path& database_path) {
  const bool configured = !options.signing_key.empty();
  const std::filesystem::path path =
      configured ? options.signing_key : DefaultSigningKeyPath(database_path);
  std::error_code ec;
  if (!configured && !std::filesystem::exists(path, ec)) {
    absl::StatusOr<CheckpointKey> key = CheckpointKey::Generate();
    if (!key.ok()) return key.status();
    if (absl::Status s = key->WritePrivate(path); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("audit.signing_key: ", s.message()));
    }
    const std::filesystem::path pub =
        path.string().substr(0, path.string().size() - 4) + ".pub.pem";
    if (absl::Status s = key->WritePublic(pub); !s.ok()) return s;
    spdlog::warn(
        "event=checkpoint_key_generated path={} public_key={} key_id={} note=\"no "
        "audit.signing_key configured; give auditors the public key now and keep it outside "
        "this server\"",
        path.string(), pub.string(), key->KeyId());
    return key;
  }
  absl::StatusOr<std::string> pem = geo::ReadFileBounded(path, 1 << 16);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(),
                        absl::StrCat("audit.signing_key: cannot read ", path.string(), ": ",
                                     pem.status().message()));
  }
  absl::StatusOr<CheckpointKey> key = CheckpointKey::LoadPrivatePem(*pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit.signing_key: ", path.string(), ": ", key.status().message()));
  }
  spdlog::info("event=checkpoint_key_loaded path={} key_id={}", path.string(), key->KeyId());
  return key;
}

absl::StatusOr<std::vector<CheckpointKey>> LoadInstanceKeys(const AuditOptions& options) {
  std::vector<CheckpointKey> out;
  for (const std::filesystem::path& path : options.instance_keys) {
    absl::StatusOr<std::string> pem = geo::ReadFileBounded(path, 1 << 16);
    if (!pem.ok()) {
      return absl::Status(pem.status().code(),
                          absl::StrCat("audit.instance_keys: cannot read ", path.string(), ": ",
                                       pem.status().message()));
    }
    absl::StatusOr<CheckpointKey> key = CheckpointKey::LoadPublicPem(*pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit.instance_keys: ", path.string(), ": ", key.status().message()));
    }
    out.push_back(*std::move(key));
  }
  return out;
}

}  // namespace cit::dispatch
