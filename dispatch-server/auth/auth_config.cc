#include "dispatch-server/auth/auth_config.h"

#include <string>

#include "absl/status/status.h"

namespace cit::dispatch {

absl::StatusOr<std::filesystem::path> OperatorTokensPath(const toml::table& raw,
                                                         const std::filesystem::path& config_file) {
  const toml::table* auth = raw["auth"].as_table();
  if (auth == nullptr) return std::filesystem::path();
  for (const auto& [key, value] : *auth) {
    if (key.str() != "tokens") {
      return absl::InvalidArgumentError("auth." + std::string(key.str()) + ": unknown key");
    }
  }
  if (!auth->contains("tokens")) return std::filesystem::path();
  std::optional<std::string> tokens = (*auth)["tokens"].value<std::string>();
  if (!tokens || tokens->empty()) {
    return absl::InvalidArgumentError("auth.tokens: must be a file name");
  }
  std::filesystem::path path = *tokens;
  if (path.is_relative() && !config_file.empty()) path = config_file.parent_path() / path;
  return path;
}

}  // namespace cit::dispatch
