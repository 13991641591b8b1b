// The per-vehicle hash chain of DESIGN §8: canonical bytes of a stored record and the chain step.
// Shared by every Store backend and by `dispatchctl audit verify`, so that all of them compute
// the same hashes.
//
//   std::string h = kChainGenesis;                        // h_0: 32 zero bytes
//   for (const StoredRecord& r : records_in_chain_order) {
//     absl::StatusOr<std::string> next = ChainStep(h, CanonicalBytes(r...));
//     if (!next.ok()) return next.status();                // OpenSSL failed: store nothing
//     h = *std::move(next);
//   }
//
// Canonical bytes of a record (all integers big-endian):
//   "citwatch.record.v1" || u32 len(vehicle_id) || vehicle_id || u64 seq
//   || i64 server_received_unix_ns || u32 len(body) || body
// where body is the record's deterministic protobuf serialisation as stored (the store keeps the
// exact bytes it hashed, so verification never depends on re-serialising).
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_STORE_RECORD_HASH_H_
#define CIT_DISPATCH_STORE_RECORD_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cit/v1/telemetry.pb.h"

namespace cit::dispatch {

inline constexpr size_t kChainHashBytes = 32;
// h_0.
inline const std::string kChainGenesis(kChainHashBytes, '\0');

// Deterministic serialisation of any message: the bytes every chain hashes and stores (records,
// plan events, checkpoints) and change fingerprints.
std::string SerializeDeterministic(const google::protobuf::Message& message);

// Deterministic serialisation of a record (the stored body).
std::string SerializeRecordBody(const cit::v1::Record& record);

std::string CanonicalRecordBytes(std::string_view vehicle_id, uint64_t seq,
                                 int64_t server_received_unix_ns, std::string_view body);

// SHA-256(prev || canonical). INTERNAL when OpenSSL fails (allocation): the caller must not
// store anything then; there is no placeholder hash.
absl::StatusOr<std::string> ChainStep(std::string_view prev_hash, std::string_view canonical);

// The same hash as ChainStep(prev_hash, CanonicalRecordBytes(vehicle_id, seq, server_ns, body)),
// without building the canonical bytes: the commit thread's per-record step, which allocates
// nothing once `out` has its capacity. Writes the 32 bytes to `*out`; `prev_hash` may view
// `*out`. INTERNAL as ChainStep (then `*out` is unchanged).
absl::Status RecordChainStep(std::string_view prev_hash, std::string_view vehicle_id, uint64_t seq,
                             int64_t server_received_unix_ns, std::string_view body,
                             std::string* out);

// Canonical bytes of an entry of a server chain (plan log, alert-event log):
//   domain || u64 index || u64 key || u32 len(body) || body   (integers big-endian)
// `key` is the entry's own id where it has one (the alert event id), else 0.
std::string CanonicalEntryBytes(std::string_view domain, uint64_t index, uint64_t key,
                                std::string_view body);

// Test seam: while set, ChainStep fails as if OpenSSL had (process-wide).
void FailChainStepsForTesting(bool fail);

// Lowercase hex, for logs and CLIs.
std::string HexHash(std::string_view hash);
// The same into `out` (its capacity reused: no allocation per record in a long read).
void HexHashInto(std::string_view hash, std::string* out);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_RECORD_HASH_H_
