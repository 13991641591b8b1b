// Monitor snapshots in the server's SQLite file (table monitor_snapshots): the latest encoded
// monitor state of each vehicle (monitor/state_snapshot.h), kept so that a restart re-evaluates
// only the records received after it (issue 12 §1).
//
//   auto store = SqliteSnapshotStore::Open(db_path);
//   (*store)->Put(snapshots);                       // snapshot writer thread
//   auto s = (*store)->Get("truck-7");              // start-up (or SqliteReplayReader::Snapshot)
//
// A cache, not the record: one row per vehicle, replaced in place, not hash-chained and not
// append-only (unlike records, plans and alert events). The columns repeat what the encoded
// bytes hold so that a stale snapshot (another run or plan version) is refused without decoding;
// the decoder checks the bytes themselves (a SHA-256 over them).
//
// Thread contract: one store per thread (each holds its own connection).
#ifndef CIT_DISPATCH_STORE_SQLITE_SNAPSHOT_STORE_H_
#define CIT_DISPATCH_STORE_SQLITE_SNAPSHOT_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dispatch-server/store/snapshot_store.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class SqliteSnapshotStore final : public SnapshotStore {
 public:
  // Creates the table if needed (schema component "monitor_snapshots").
  static absl::StatusOr<std::unique_ptr<SqliteSnapshotStore>> Open(
      const std::filesystem::path& path);

  // Replaces each vehicle's snapshot, all in one transaction.
  absl::Status Put(std::span<const StoredSnapshot> snapshots) override;
  absl::StatusOr<std::optional<StoredSnapshot>> Get(std::string_view vehicle_id) override;

 private:
  explicit SqliteSnapshotStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<sqlite::Database> db_;
};

// The same read on any connection to the file (SqliteReplayReader uses it).
absl::StatusOr<std::optional<StoredSnapshot>> ReadSnapshot(sqlite::Database& db,
                                                           std::string_view vehicle_id);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_SQLITE_SNAPSHOT_STORE_H_
