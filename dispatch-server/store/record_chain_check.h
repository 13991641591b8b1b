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

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/store/chain_check.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

// `anchors`: the vehicle's record-chain heads from verified checkpoints (may be empty).
absl::StatusOr<ChainReport> VerifyRecordChain(sqlite::Database& db, std::string_view vehicle_id,
                                              std::vector<ChainAnchor> anchors);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_RECORD_CHAIN_CHECK_H_
