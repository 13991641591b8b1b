// Fuzz target: route import (geo/route_import.h). Every input goes to every importer: GeoJSON,
// GPX, and encoded polylines at precision 5 and 6. The header promises "No input crashes them";
// an error status is a fine outcome, and a route they accept must be at least 2 valid points.
//
// Run: ctest --preset fuzz -R fuzz.route, or build/fuzz/tests/fuzz/fuzz_route (docs/fuzzing.md).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "geo/route_import.h"
#include "tests/fuzz/text_mutator.h"

namespace {

void Check(const absl::StatusOr<std::vector<cit::geo::LonLat>>& route) {
  if (!route.ok()) return;
  if (route->size() < 2) __builtin_trap();
  for (const cit::geo::LonLat& p : *route) {
    if (!std::isfinite(p.lon_deg()) || !std::isfinite(p.lat_deg()) || std::fabs(p.lat_deg()) > 90 ||
        std::fabs(p.lon_deg()) > 180)
      __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(cit::geo::ImportGeoJsonRoute(text, "fuzz.geojson"));
  Check(cit::geo::ImportGpxRoute(text, "fuzz.gpx"));
  Check(cit::geo::DecodePolyline(text, 5));
  Check(cit::geo::DecodePolyline(text, 6));
  return 0;
}

// Nesting, element and chunk repeats that keep the text well-formed (text_mutator.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return cit::fuzz::MutateText(data, size, max_size, seed);
}
