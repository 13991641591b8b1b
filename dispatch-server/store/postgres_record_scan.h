// Store::ScanPage on the PostgreSQL records table: a vehicle's records in event-time order
// (event_time_ns, seq), read inside the caller's one transaction (a REPEATABLE READ snapshot,
// so every chunk sees the same rows) in keyset chunks of at most `chunk` rows: memory bounded
// whatever the run's length, and each chunk one index range scan of records_by_event_time.
//
// Why: the Store default paged through ReadPage, 1,000 records a page, each page its own
// transaction, every bytea unescaped into a new string (PQunescapeBytea, then a copy) and every
// body parsed into a StoredRecord that the caller copied again: ~5x SQLite's time per exported
// record (docs/benchmarks.md). Here each column is read in place from libpq's result (libpqxx
// 6.4 has no binary result format), bytea hex is decoded into two buffers reused for every row,
// and a body is parsed at most once, into an arena reset every few hundred records, or not at
// all when the query says parse_body = false (the caller parses it into its own message).
// Same rows, same order as ReadPage (tested: tests/dispatch/postgres_record_scan_test.cc).
//
//   pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(conn);
//   absl::StatusOr<size_t> n = ScanPostgresRecords(t, query, [&](const RecordView& v) {...});
//
// Thread contract: the caller owns the transaction (and its connection) for the scan.
#ifndef CIT_DISPATCH_STORE_POSTGRES_RECORD_SCAN_H_
#define CIT_DISPATCH_STORE_POSTGRES_RECORD_SCAN_H_

#include <cstddef>
#include <functional>
#include <pqxx/transaction_base>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dispatch-server/store/store.h"

namespace cit::dispatch {

// Rows fetched per query: a result of ~1 MB (bytea travels as hex text).
inline constexpr size_t kPgScanChunk = 2048;

// One chunk: the rows strictly after ($2, $3) in (event_time_ns, seq) order, below $4, within
// chain_index $5, at most $6. The row comparison and the equality on vehicle_id make it one range
// scan of records_by_event_time starting at the cursor (EXPLAIN: Index Scan using
// records_by_event_time, Index Cond on vehicle_id and the row comparison, Filter on
// chain_index): no sort, no re-reading of the rows before the cursor, and it stops after $6.
inline constexpr char kPgRecordChunkSql[] =
    "SELECT seq, chain_index, server_time_ns, body, hash, event_time_ns FROM records WHERE "
    "vehicle_id = $1 AND (event_time_ns, seq) > ($2, $3) AND event_time_ns < $4 AND "
    "chain_index <= $5 ORDER BY event_time_ns, seq LIMIT $6";

// Run first in the scan's transaction (SET LOCAL: it ends with it). Without them the planner
// chose, wherever its statistics made the vehicle look rare -- a table not analyzed since the
// run was ingested, a vehicle newer than the last ANALYZE -- a bitmap heap scan of every row
// after the cursor and a sort of them all, for each chunk: an 8 h run's export read its rows
// ~7 times over (the measured 5x against SQLite, docs/benchmarks.md). The index scan above is
// right whatever the statistics say: it reads the chunk's rows in order and stops.
inline constexpr char kPgRecordScanSettingsSql[] =
    "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off";

// ReadBySeq's and ReadByEventTime's queries, run after kPgRecordScanSettingsSql like the chunk
// query: each ORDER BY is the order of one index (records_pkey, records_by_event_time), so without
// sorts the only plan is a range scan of that index that stops at the limit. Without the settings,
// for a vehicle newer than the last ANALYZE, ReadByEventTime walked records_by_chain over the
// vehicle's whole chain, filtered on the time range and sorted what was left (EXPLAIN ANALYZE:
// 20,000 rows read for 100 returned, tests/dispatch/postgres_read_plans_test.cc).
inline constexpr char kPgRecordsBySeqSql[] =
    "SELECT vehicle_id, seq, chain_index, server_time_ns, body, hash FROM records WHERE "
    "vehicle_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4";
inline constexpr char kPgRecordsByEventTimeSql[] =
    "SELECT vehicle_id, seq, chain_index, server_time_ns, body, hash FROM records WHERE "
    "vehicle_id = $1 AND event_time_ns >= $2 AND event_time_ns < $3 "
    "ORDER BY event_time_ns, seq LIMIT $4";

// Hands every record of `query` (vehicle, time range, cursor, chain limit, row limit) to `fn` in
// (event_time_ns, seq) order; returns how many. Applies kPgRecordScanSettingsSql to `t`. libpqxx
// exceptions propagate (the store's WithReader maps them to a status); a body that does not parse
// is DATA_LOSS.
absl::StatusOr<size_t> ScanPostgresRecords(pqxx::transaction_base& t, const RecordPageQuery& query,
                                           const std::function<void(const RecordView&)>& fn,
                                           size_t chunk = kPgScanChunk);

// A bytea column's text form ("\x" hex, PostgreSQL's default bytea_output; the escape format
// otherwise) decoded into `out`, reusing its storage. False if it is neither.
bool DecodeByteaInto(std::string_view text, std::string& out);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_RECORD_SCAN_H_
