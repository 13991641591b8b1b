// Fuzz target: the operator token file (dispatch-server/auth/token_file.h), TOML read at start-up
// and on reload. Any text either parses into entries or is refused with a status; a parsed file
// must authenticate the token of none of its entries by accident (hash compare is exact).
//
// Run: build/fuzz/tests/fuzz/fuzz_token_file -max_total_time=60 DIR tests/fuzz/corpus/token_file
// (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatch-server/auth/token_file.h"
#include "tests/fuzz/text_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cit::dispatch::TokenFile> tokens =
      cit::dispatch::TokenFile::Parse(text, "fuzz-tokens.toml");
  if (!tokens.ok()) return 0;
  // The input itself as a bearer token: SHA-256 of arbitrary bytes matches no stored hash
  // unless the file holds that very hash, which the fuzzer cannot construct.
  if (tokens->Authenticate(text).has_value()) __builtin_trap();
  return 0;
}

// Nesting, element and chunk repeats that keep the text well-formed (text_mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return cit::fuzz::MutateText(data, size, max_size, seed);
}
