// Fuzz target: vehicle-agent's TOML configuration (vehicle-agent/config.h): parse, then the
// value checks the agent runs before it starts. Refusals are fine outcomes.
//
// Run: build/fuzz/tests/fuzz/fuzz_agent_config -max_total_time=60 DIR
// tests/fuzz/corpus/agent_config (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/text_mutator.h"
#include "vehicle-agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cit::agent::AgentConfig> config = cit::agent::ParseConfig(text, "fuzz.toml");
  if (config.ok()) (void)cit::agent::ValidateConfig(*config);
  return 0;
}

// Nesting, element and chunk repeats that keep the text well-formed (text_mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return cit::fuzz::MutateText(data, size, max_size, seed);
}
