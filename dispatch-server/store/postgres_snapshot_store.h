// Monitor snapshots in the PostgreSQL database (issue 15), table monitor_snapshots, component
// "monitor_snapshots": the same columns and use as SqliteSnapshotStore (store/snapshot_store.h).
//
//   auto store = PostgresSnapshotStore::Open(conninfo);
//   (*store)->Put(snapshots);                       // snapshot writer thread
//
// Thread contract: thread-safe (one connection behind a mutex, pg::Session).
#ifndef CIT_DISPATCH_STORE_POSTGRES_SNAPSHOT_STORE_H_
#define CIT_DISPATCH_STORE_POSTGRES_SNAPSHOT_STORE_H_

#include <memory>
#include <string>

#include "dispatch-server/store/postgres_db.h"
#include "dispatch-server/store/snapshot_store.h"

namespace pqxx {
class transaction_base;
}

namespace cit::dispatch {

class PostgresSnapshotStore final : public SnapshotStore {
 public:
  // Connects and creates the table if needed.
  static absl::StatusOr<std::unique_ptr<PostgresSnapshotStore>> Open(const std::string& conninfo);

  absl::Status Put(std::span<const StoredSnapshot> snapshots) override;
  absl::StatusOr<std::optional<StoredSnapshot>> Get(std::string_view vehicle_id) override;

  // Applies the snapshot table's migrations on `c` (the replay reader's start-up too).
  static absl::Status Migrate(pqxx::connection& c);

 private:
  explicit PostgresSnapshotStore(std::unique_ptr<pg::Session> session)
      : session_(std::move(session)) {}
  std::unique_ptr<pg::Session> session_;
};

// The same read in any transaction (PostgresReplayReader uses it); none if the vehicle has none.
std::optional<StoredSnapshot> ReadPostgresSnapshot(pqxx::transaction_base& t,
                                                   std::string_view vehicle_id);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_SNAPSHOT_STORE_H_
