// Store::ScanPage on the SQLite records table: a vehicle's records in event-time order
// (event_time_ns, seq), read in primary-key order wherever that is the same order.
//
// Why: the event-time index holds only (vehicle_id, event_time_ns, seq), so reading the rows
// through it costs one primary-key seek per row (a B-tree descent comparing the text vehicle id:
// about a third of an 8 h run's export, docs/benchmarks.md). A truck's records almost always
// arrive in the order they were made, so seq order is event-time order. Each chunk of up to
// kScanChunk records is therefore planned first from the index alone (covering: no row read):
// if the chunk's seqs rise strictly and fill their span closely, the rows are read in one
// primary-key range walk and the ones the index did not list are skipped; otherwise (records
// out of order, e.g. a backlog sent late) the chunk is read through the index as before. Both
// ways give the same rows in the same order (tested: tests/dispatch/sqlite_record_scan_test.cc).
//
//   absl::StatusOr<size_t> n = ScanRecordsInKeyOrder(db, query, [&](const RecordView& v) {...});
//
// Thread contract: the caller holds the connection for the scan (SqliteStore's read lock).
#ifndef CIT_DISPATCH_STORE_SQLITE_RECORD_SCAN_H_
#define CIT_DISPATCH_STORE_SQLITE_RECORD_SCAN_H_

#include <cstddef>
#include <functional>

#include "absl/status/statusor.h"
#include "dispatch-server/store/sqlite_db.h"
#include "dispatch-server/store/store.h"

namespace cit::dispatch {

// Records planned at once (memory: 16 bytes each).
inline constexpr size_t kScanChunk = 2048;

// How the chunks of the last scans were read, for tests and benchmarks.
struct RecordScanStats {
  size_t chunks_in_seq_order = 0;
  size_t chunks_by_index = 0;
};

// Hands every record of `query` (vehicle, time range, cursor, chain limit, row limit) to `fn` in
// (event_time_ns, seq) order; returns how many. `stats`, when given, is added to.
absl::StatusOr<size_t> ScanRecordsInKeyOrder(sqlite::Database& db, const RecordPageQuery& query,
                                             const std::function<void(const RecordView&)>& fn,
                                             RecordScanStats* stats = nullptr);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_SQLITE_RECORD_SCAN_H_
