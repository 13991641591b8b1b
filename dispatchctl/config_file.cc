#include "dispatchctl/config_file.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cit::ctl {

std::vector<CLI::ConfigItem> ConfigFile::from_config(std::istream& input) const {
  std::vector<CLI::ConfigItem> read = CLI::ConfigTOML::from_config(input);
  for (CLI::ConfigItem& item : read) std::replace(item.name.begin(), item.name.end(), '_', '-');
  return read;
}

std::string UnknownConfigKeyMessage(const std::string& cli11_message) {
  // CLI11 says "INI was not able to parse <key>".
  constexpr absl::string_view kPrefix = "INI was not able to parse ";
  std::string key = cli11_message;
  if (absl::StartsWith(key, kPrefix)) key = key.substr(kPrefix.size());
  return absl::StrCat(
      "the config file (--config, CIT_CTL_CONFIG or ~/.config/citwatch/dispatchctl.toml) has a "
      "key dispatchctl does not know: '",
      key,
      "'. Keys are the long options: server, ca-file, server-name, token-file, token, insecure, "
      "timeout, json. Fix or remove it.");
}

}  // namespace cit::ctl
