// dispatchctl's TOML config file: keys are the long options (server, ca-file, token-file, ...),
// written with dashes or underscores (`token_file` and `token-file` are the same key).
//
//   app.config_formatter(std::make_shared<cit::ctl::ConfigFile>());
//   app.allow_config_extras(CLI::config_extras_mode::error);  // unknown keys are errors
//
// Thread contract: stateless; used by CLI11 during parse.
#ifndef CIT_DISPATCHCTL_CONFIG_FILE_H_
#define CIT_DISPATCHCTL_CONFIG_FILE_H_

#include <CLI/CLI.hpp>
#include <istream>
#include <string>
#include <vector>

namespace cit::ctl {

class ConfigFile : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

// The error for a key no option has, naming the key and the keys there are.
std::string UnknownConfigKeyMessage(const std::string& cli11_message);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_CONFIG_FILE_H_
