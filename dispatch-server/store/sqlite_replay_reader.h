// ReplaySource on the server's SQLite file: its own read-only connection, memory-mapped, that
// reads a vehicle's records in one sequential pass (primary-key order) and hands them out in
// chain order, undecoded (a rebuild reads each live run's whole history at start-up: 28,800
// records per 8-hour run).
//
//   absl::StatusOr<std::unique_ptr<SqliteReplayReader>> r = SqliteReplayReader::Open(db_path);
//   (*r)->ForEach("CIT-0001", from, [&](const StoredForReplay& rec) { ... });
//
// Thread contract: one reader per thread.
#ifndef CIT_DISPATCH_STORE_SQLITE_REPLAY_READER_H_
#define CIT_DISPATCH_STORE_SQLITE_REPLAY_READER_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/store/replay_source.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class SqliteReplayReader final : public ReplaySource {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteReplayReader>> Open(
      const std::filesystem::path& path);

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
  explicit SqliteReplayReader(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_SQLITE_REPLAY_READER_H_
