// Fuzz target: the dispatchctl plan file parser (dispatchctl/plan_file.h), JSON and TOML, with
// the route importers it calls for inline routes. Relative route file names resolve in a
// directory that does not exist, so the parser never reads files. An error status is a fine
// outcome; a crash, hang or uncaught exception is a bug.
//
// Run: ctest --preset fuzz -R fuzz.plan, or build/fuzz/tests/fuzz/fuzz_plan (docs/fuzzing.md).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatchctl/plan_file.h"
#include "tests/fuzz/text_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // A fixed clock keeps runs reproducible: 2026-11-29T12:00:00Z.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'795'953'600));
  (void)cit::ctl::ParsePlan(text, "/nonexistent/citwatch-fuzz", now);
  return 0;
}

// Nesting, element and chunk repeats that keep the text well-formed (text_mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return cit::fuzz::MutateText(data, size, max_size, seed);
}
