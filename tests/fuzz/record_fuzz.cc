// Fuzz target: agent bytes decoded and validated without a server (fast; DESIGN §9);
// ingest_fuzz.cc sends batches through the real server. Parses the input as a
// cit.v1.AgentMessage and as a bare RecordBatch, as the gRPC stream would, and runs every record
// through ValidateRecord and every Hello's vehicle id through IsValidVehicleId. Neither may
// crash, hang or read out of bounds on any input; a rejection is a fine outcome.
//
// Run: ctest --preset fuzz -R fuzz.record, or build/fuzz/tests/fuzz/fuzz_record (docs/fuzzing.md).
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "cit/v1/telemetry.pb.h"
#include "dispatch-server/ingest/record_validator.h"

namespace {

void ValidateBatch(const cit::v1::RecordBatch& batch) {
  // A fixed clock keeps runs reproducible: 2026-11-29T12:00:00Z.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'795'953'600));
  const cit::dispatch::ValidationLimits limits;
  for (const cit::v1::Record& r : batch.records()) {
    std::optional<cit::dispatch::Rejection> rej =
        cit::dispatch::ValidateRecord(r, "CIT-0001", now, limits);
    // Touch the result so the call is not optimised away.
    if (rej && rej->detail.size() > (size_t{1} << 30)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int n = size > static_cast<size_t>(INT32_MAX) ? INT32_MAX : static_cast<int>(size);
  cit::v1::AgentMessage msg;
  if (msg.ParseFromArray(data, n)) {
    if (msg.has_hello()) (void)cit::dispatch::IsValidVehicleId(msg.hello().vehicle_id());
    if (msg.has_batch()) ValidateBatch(msg.batch());
    if (msg.has_urgent()) ValidateBatch(msg.urgent());
  }
  cit::v1::RecordBatch batch;
  if (batch.ParseFromArray(data, n)) ValidateBatch(batch);
  return 0;
}
