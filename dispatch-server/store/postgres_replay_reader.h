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
#include "dispatch-server/store/replay_source.h"

namespace cit::dispatch {

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
