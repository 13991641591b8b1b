#include "dispatch-server/store/sqlite_snapshot_store.h"

#include <utility>

namespace cit::dispatch {
namespace {

constexpr sqlite::Migration kSnapshotMigrations[] = {
    {1, "latest monitor state per vehicle (a cache for start-up)",
     R"sql(
CREATE TABLE monitor_snapshots (
  vehicle_id    TEXT    PRIMARY KEY,
  run_id        TEXT    NOT NULL,
  plan_version  INTEGER NOT NULL,
  last_seq      INTEGER NOT NULL,
  taken_ns      INTEGER NOT NULL,
  bytes         BLOB    NOT NULL
);
)sql"},
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteSnapshotStore>> SqliteSnapshotStore::Open(
    const std::filesystem::path& path) {
  // Normal durability: a snapshot lost in a power cut only makes the next start-up slower.
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db =
      sqlite::Database::Open(path, {.durability = sqlite::Durability::kNormal});
  if (!db.ok()) return db.status();
  if (absl::Status s = sqlite::ApplyMigrations(**db, "monitor_snapshots", kSnapshotMigrations);
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<SqliteSnapshotStore>(new SqliteSnapshotStore(std::move(*db)));
}

absl::Status SqliteSnapshotStore::Put(std::span<const StoredSnapshot> snapshots) {
  if (snapshots.empty()) return absl::OkStatus();
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  absl::StatusOr<sqlite::Statement> put = db_->Prepare(
      "INSERT OR REPLACE INTO monitor_snapshots "
      "(vehicle_id, run_id, plan_version, last_seq, taken_ns, bytes) VALUES (?1, ?2, ?3, ?4, ?5, "
      "?6)");
  if (!put.ok()) return put.status();
  for (const StoredSnapshot& s : snapshots) {
    put->Reset()
        .Bind(1, s.vehicle_id)
        .Bind(2, s.run_id)
        .Bind(3, s.plan_version)
        .Bind(4, s.last_seq)
        .Bind(5, s.taken_ns)
        .Bind(6, sqlite::Blob(s.bytes));
    if (absl::Status st = put->Run(); !st.ok()) return st;
  }
  return tx.Commit();
}

absl::StatusOr<std::optional<StoredSnapshot>> SqliteSnapshotStore::Get(
    std::string_view vehicle_id) {
  return ReadSnapshot(*db_, vehicle_id);
}

absl::StatusOr<std::optional<StoredSnapshot>> ReadSnapshot(sqlite::Database& db,
                                                           std::string_view vehicle_id) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT run_id, plan_version, last_seq, taken_ns, bytes FROM monitor_snapshots "
      "WHERE vehicle_id = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  StoredSnapshot s;
  s.vehicle_id = std::string(vehicle_id);
  s.run_id = q->ColumnText(0);
  s.plan_version = static_cast<uint32_t>(q->ColumnInt64(1));
  s.last_seq = static_cast<uint64_t>(q->ColumnInt64(2));
  s.taken_ns = q->ColumnInt64(3);
  s.bytes = q->ColumnBlob(4);
  return s;
}

}  // namespace cit::dispatch
