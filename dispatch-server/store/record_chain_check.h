// Verification of one vehicle's record chain in the server's SQLite file (DESIGN §8): recomputes
// h_n over every record in chain order, cross-checks every stored column that the API and the
// report read (seq, times, boot, kind, lat_deg, lon_deg) against the hashed body, compares the
// chain with the vehicle's chain-head row and with the heads that signed checkpoints recorded,
// and names the first broken record by its seq.
//
//   sqlite::Transaction snapshot(db, sqlite::Transaction::Mode::kDeferred);
//   absl::StatusOr<ChainReport> r = VerifyRecordChain(db, "CIT-0001", anchors);
//   if (r.ok() && !r->intact) std::cout << r->first_bad << ": " << r->problem;
//
// Thread contract: uses `db` only for the call; the caller owns the connection's thread.
#ifndef CIT_DISPATCH_STORE_RECORD_CHAIN_CHECK_H_
#define CIT_DISPATCH_STORE_RECORD_CHAIN_CHECK_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/store/chain_check.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

// `anchors`: the vehicle's record-chain heads from verified checkpoints (may be empty).
absl::StatusOr<ChainReport> VerifyRecordChain(sqlite::Database& db, std::string_view vehicle_id,
                                              std::vector<ChainAnchor> anchors);

// Event times (ns since the epoch) of the records a run owns; either end may be open.
struct RecordTimeWindow {
  std::optional<int64_t> from_ns;
  std::optional<int64_t> to_ns;
};

// Verifies the part of the chain that holds the records of `window` (a run), in time that grows
// with the run and not with the vehicle's history (issue 16 §3): the walk starts at the newest
// signed checkpoint before the run's first record (its head is trusted: it is signed) and ends
// at the first checkpoint after the run's last record, or at the chain's end (then the stored
// chain-head row is compared too). Every record in between is recomputed, so a record of the run
// that was changed, deleted or added shows as it does in the whole-chain walk. The neighbours
// of the window (the last record before it, the first after it, by event time) widen the span,
// so records deleted from the run's edges, or all of them, leave a hole inside it.
// `ChainReport::first_position` says where the walk started.
absl::StatusOr<ChainReport> VerifyRecordChainForWindow(sqlite::Database& db,
                                                       std::string_view vehicle_id,
                                                       std::vector<ChainAnchor> anchors,
                                                       const RecordTimeWindow& window);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_RECORD_CHAIN_CHECK_H_
