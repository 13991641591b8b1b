// ReplaySource on the PostgreSQL record store (issue 15): what the monitor's restart rebuild
// reads (monitor/state_rebuild.h) — a vehicle's records in chain order with their receive times,
// and its latest monitor snapshot (store/postgres_snapshot_store.h) — on its own connection.
//
//   absl::StatusOr<std::unique_ptr<PostgresReplayReader>> r = PostgresReplayReader::Open(conninfo);
//   (*r)->ForEach("CIT-0001", from, [&](const StoredForReplay& rec) { ... });
//
// Thread contract: one reader per thread (it may be used from several, one at a time).
#ifndef CIT_DISPATCH_STORE_POSTGRES_REPLAY_READER_H_
#define CIT_DISPATCH_STORE_POSTGRES_REPLAY_READER_H_

#include <memory>
#include <string>
#include <vector>

#include "dispatch-server/store/postgres_db.h"
#include "dispatch-server/store/postgres_record_scan.h"
#include "dispatch-server/store/replay_source.h"

namespace cit::dispatch {

// ForEach's query, run after kPgRecordScanSettingsSql (no sort, no bitmap scan): the vehicle ($1)
// records from the first one at or after event time $2 (by seq, as SQLite's reader), in seq
// order; ForEach puts them in chain order itself. Each ORDER BY is one index's order (the start
// from records_by_event_time, the rows from records_pkey from that seq on), so the planner has one
// plan whatever its statistics say. With ORDER BY chain_index in SQL, for a vehicle newer than the
// last ANALYZE (which it took for rare), it walked records_by_chain over the vehicle's whole chain
// and dropped every row before the start with a filter, in the start lookup and again in the
// rows' scan.
inline constexpr char kPgReplayFromSql[] =
    "SELECT chain_index, server_time_ns, body FROM records WHERE vehicle_id = $1 AND "
    "seq >= (SELECT seq FROM records WHERE vehicle_id = $1 AND event_time_ns >= $2 "
    "ORDER BY event_time_ns, seq LIMIT 1) ORDER BY seq";

// Locate's query, run after kPgRecordScanSettingsSql: the first record of vehicle $1 at seq $2
// or above, in seq order (Locate checks it is $2). Written as an equality, the lookup of one
// primary key tied, for a vehicle newer than the last ANALYZE, with a walk of records_by_chain
// over the vehicle's whole chain filtered on seq, and the planner took the walk; ordered by seq
// without sorts, records_pkey is its only plan.
inline constexpr char kPgLocateSql[] =
    "SELECT chain_index, server_time_ns, seq FROM records WHERE vehicle_id = $1 AND seq >= $2 "
    "ORDER BY seq LIMIT 1";

// VehiclesHeardSince's query, run after kPgRecordScanSettingsSql: per vehicle, its newest event
// time (one backward step into records_by_event_time, stopped by the LIMIT), kept when at or after
// $1. Written as EXISTS (... event_time_ns >= $1), the planner could not tell how many rows each
// probe would match and, for vehicles newer than the last ANALYZE, chose scans of the vehicle's
// whole history; the newest-row probe costs one index descent per vehicle whatever the
// statistics say. Unordered: the caller sorts the (few) ids.
inline constexpr char kPgVehiclesHeardSinceSql[] =
    "SELECT v.vehicle_id FROM vehicle_seq v CROSS JOIN LATERAL (SELECT r.event_time_ns FROM "
    "records r WHERE r.vehicle_id = v.vehicle_id ORDER BY r.event_time_ns DESC, r.seq DESC "
    "LIMIT 1) newest WHERE newest.event_time_ns >= $1";

class PostgresReplayReader final : public ReplaySource {
 public:
  // Connects (UNAVAILABLE names the server when unreachable).
  static absl::StatusOr<std::unique_ptr<PostgresReplayReader>> Open(const std::string& conninfo);

  absl::Status ForEach(std::string_view vehicle_id,
                       std::chrono::system_clock::time_point event_from,
                       const std::function<void(const StoredForReplay&)>& fn) override;
  absl::StatusOr<std::optional<std::chrono::system_clock::time_point>> LastReceivedBefore(
      std::string_view vehicle_id, std::chrono::system_clock::time_point before) override;
  absl::StatusOr<std::optional<StoredSnapshot>> Snapshot(std::string_view vehicle_id) override;
  absl::StatusOr<std::optional<ChainPosition>> Locate(std::string_view vehicle_id,
                                                      uint64_t seq) override;
  absl::Status ForEachAfter(std::string_view vehicle_id, uint64_t chain_index,
                            const std::function<void(const StoredForReplay&)>& fn) override;
  absl::StatusOr<std::vector<std::string>> VehiclesHeardSince(
      std::chrono::system_clock::time_point since) override;

 private:
  explicit PostgresReplayReader(std::unique_ptr<pg::Session> session)
      : session_(std::move(session)) {}
  std::unique_ptr<pg::Session> session_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_REPLAY_READER_H_
