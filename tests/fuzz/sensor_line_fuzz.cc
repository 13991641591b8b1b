// Fuzz target: the vehicle-agent's sensor socket line protocol (vehicle-agent/socket_sensor.h,
// ParseSensorLine). The input is split into lines as the socket reader does (at '\n', each at
// most kMaxLineBytes), and every line is parsed; a parsed record must carry a payload.
//
// Run: ctest --preset fuzz -R fuzz.sensor_line, or build/fuzz/tests/fuzz/fuzz_sensor_line
// (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "vehicle-agent/socket_sensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.size() > cit::agent::kMaxLineBytes) continue;  // the reader drops such clients
    absl::StatusOr<cit::v1::Record> rec = cit::agent::ParseSensorLine(line);
    if (rec.ok() && rec->payload_case() == cit::v1::Record::PAYLOAD_NOT_SET) __builtin_trap();
  }
  return 0;
}
