// Fuzz target: `dispatchctl plan check --track` GeoJSON tracks (Point features with times,
// LineStrings with time arrays): ParseGeoJsonTrack (dispatchctl/track_formats.h). Refusing is fine;
// an accepted track must keep the parsers' promises (track_check.h).
//
// Run: ctest --preset fuzz -R fuzz.track_geojson, or build/fuzz/tests/fuzz/fuzz_track_geojson
// (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatchctl/track_formats.h"
#include "tests/fuzz/text_mutator.h"
#include "tests/fuzz/track_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cit::fuzz::CheckTrack(cit::ctl::ParseGeoJsonTrack(text, "fuzz"));
  return 0;
}

// Nesting, element and chunk repeats that keep the text well-formed (text_mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return cit::fuzz::MutateText(data, size, max_size, seed);
}
