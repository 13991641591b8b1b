// Fuzz target: dispatch-server's TOML configuration (dispatch-server/config/config.h) and the
// sections other components read from it ([auth] tokens path, [rules] escalation steps,
// [[escalation]] policies and [notify] targets). Parse,
// then the checks --check-config runs. Refusals are fine outcomes; a crash, hang or UB is not.
//
// Run: build/fuzz/tests/fuzz/fuzz_server_config -max_total_time=60 DIR
// tests/fuzz/corpus/server_config (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatch-server/auth/auth_config.h"
#include "dispatch-server/config/config.h"
#include "dispatch-server/monitor/rule_policy_config.h"
#include "dispatch-server/notify/notify_config.h"
#include "tests/fuzz/text_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cit::dispatch::ServerConfig> config =
      cit::dispatch::ParseServerConfig(text, "/nonexistent/citwatch-fuzz");
  if (!config.ok()) return 0;
  (void)cit::dispatch::ValidateServerConfig(*config);
  (void)cit::dispatch::OperatorTokensPath(config->raw,
                                          "/nonexistent/citwatch-fuzz/dispatch-server.toml");
  (void)cit::dispatch::RulePolicyFromConfig(config->raw);
  (void)cit::dispatch::NotifyOptionsFromConfig(config->raw,
                                               "/nonexistent/citwatch-fuzz/dispatch-server.toml");
  return 0;
}

// Nesting, element and chunk repeats that keep the text well-formed (text_mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return cit::fuzz::MutateText(data, size, max_size, seed);
}
