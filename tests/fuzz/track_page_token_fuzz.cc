// Fuzz target: GetTrack's page token (dispatch-server/audit/track_page_token.h), which any
// console or CLI user sends back to the server. Any text is either refused with a status or
// decodes to a token that encodes back to exactly that text (one spelling per token).
//
// Run: build/fuzz/tests/fuzz/fuzz_track_page_token -max_total_time=60 DIR
//      tests/fuzz/corpus/track_page_token (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatch-server/audit/track_page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cit::dispatch::TrackPageToken> token = cit::dispatch::DecodeTrackPageToken(text);
  if (!token.ok()) {
    if (token.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (cit::dispatch::EncodeTrackPageToken(*token) != text) __builtin_trap();
  return 0;
}
