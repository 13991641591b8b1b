// A vehicle's monitor state as bytes: the periodic snapshot that lets a restarted server rebuild
// a live run from the snapshot plus the records received after it, instead of replaying the
// whole run (issue 12 §1; docs/alerts.md "Restarts").
//
//   SnapshotHeader h{.vehicle_id = "truck-7", .run_id = "run-1", .plan_version = 2,
//                    .last_seq = 812, .alerts_through = 40, .taken_at = clock.Now()};
//   std::string bytes = EncodeSnapshot(h, state);                 // monitor thread
//   ...
//   absl::StatusOr<DecodedSnapshot> d = DecodeSnapshot(bytes);    // start-up
//   if (!d.ok()) ... full replay (the snapshot is a cache, never the record)
//
// A snapshot is a cache: it is not part of any hash chain and may be lost or stale at any time.
// What it must never do is produce a wrong state, so the bytes end with a SHA-256 of everything
// before it, every length and enum is checked while decoding, and any mismatch is an error (the
// caller then replays the whole run). Encoding (little-endian, version 1):
//   "CITSNAP2" || header || state || sha256(all of the above)
// What is not encoded: the run itself (the caller supplies the compiled plan of the same version
// and the limits come from it), timer ids (the monitor arms its deadlines again on adoption),
// the replay gate, the corridor hint's projection cache (any value is safe) and the per-record
// fields that are reset before each record (backfill, detected time, record_received).
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_MONITOR_STATE_SNAPSHOT_H_
#define CIT_DISPATCH_SERVER_MONITOR_STATE_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/rules/vehicle_state.h"

namespace cit::dispatch {

struct SnapshotHeader {
  std::string vehicle_id;
  std::string run_id;         // the live run the state belongs to
  uint32_t plan_version = 0;  // the plan version the state was judged against
  // The last record the state has evaluated (arrival order, which is chain order): the rebuild
  // re-evaluates the records after it in the chain.
  uint64_t last_seq = 0;
  // Highest alert event id made when the snapshot was taken: the run's stored alert events up
  // to it are reflected in the state; the rebuild matches re-evaluated signals against the
  // later ones only.
  uint64_t alerts_through = 0;
  // Monitor clock when the snapshot was taken: the rebuild's clock resumes there.
  SysTime taken_at{};
};

struct DecodedSnapshot {
  SnapshotHeader header;
  // run, limits, timers and gate unset (see above).
  std::unique_ptr<VehicleState> state;
};

std::string EncodeSnapshot(const SnapshotHeader& header, const VehicleState& state);
// DATA_LOSS naming what is wrong (bad magic, checksum mismatch, truncated, bad enum value,
// trailing bytes) for anything that is not a snapshot this version wrote.
absl::StatusOr<DecodedSnapshot> DecodeSnapshot(std::string_view bytes);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MONITOR_STATE_SNAPSHOT_H_
