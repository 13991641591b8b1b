// Fuzz target: `dispatchctl plan check --track` NMEA 0183 tracks (RMC/GGA with checksums):
// ParseNmeaTrack (dispatchctl/track_formats.h). Refusing is fine; an accepted track must keep the
// parsers' promises (track_check.h).
//
// Run: ctest --preset fuzz -R fuzz.track_nmea, or build/fuzz/tests/fuzz/fuzz_track_nmea
// (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dispatchctl/track_formats.h"
#include "tests/fuzz/track_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cit::fuzz::CheckTrack(cit::ctl::ParseNmeaTrack(text, "fuzz"));
  return 0;
}
