// Fuzz target: monitor snapshots read back from the database at start-up
// (dispatch-server/monitor/state_snapshot.h, DecodeSnapshot). A snapshot ends with a SHA-256 of
// its bytes, which random mutations never get right, so the input is the snapshot without it:
// the target appends the digest and decodes, reaching every length, range and enum check. The
// bytes as given are decoded too (the checksum path). A decoded state must encode and decode
// again, and its stop indexes must be inside its stop vector (the rules index it).
//
// Seeds: tests/fuzz/corpus/state_snapshot/ (snapshots of a state with stops, a last fix, door
// records waiting for their position, crew; written by the encoder, digest removed).
//
// Run: ctest --preset fuzz -R fuzz.state_snapshot, or build/fuzz/tests/fuzz/fuzz_state_snapshot
// (docs/fuzzing.md).
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "dispatch-server/monitor/state_snapshot.h"

namespace {

std::string WithDigest(const uint8_t* data, size_t size) {
  std::string out(reinterpret_cast<const char*>(data), size);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data, size, digest, &n, EVP_sha256(), nullptr) != 1) __builtin_trap();
  out.append(reinterpret_cast<const char*>(digest), n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cit::dispatch::DecodeSnapshot;
  (void)DecodeSnapshot(std::string_view(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<cit::dispatch::DecodedSnapshot> d = DecodeSnapshot(WithDigest(data, size));
  if (!d.ok()) return 0;
  const cit::dispatch::VehicleState& v = *d->state;
  const int stops = static_cast<int>(v.stops.size());
  if (v.current_stop < -1 || v.current_stop >= stops || v.next_stop < 0 || v.next_stop > stops) {
    __builtin_trap();
  }
  if (!DecodeSnapshot(cit::dispatch::EncodeSnapshot(d->header, v)).ok()) __builtin_trap();
  return 0;
}
