#include "dispatch-server/store/postgres_snapshot_store.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

// Released versions are never edited. Not append-only: each vehicle's row is replaced.
const std::string kSnapshotSchemaSql = absl::StrCat(pg::kServerRoleSql, R"sql(
CREATE TABLE monitor_snapshots (
  vehicle_id   text    PRIMARY KEY,
  run_id       text    NOT NULL,
  plan_version bigint  NOT NULL,
  last_seq     bigint  NOT NULL,
  taken_ns     bigint  NOT NULL,
  bytes        bytea   NOT NULL
);
REVOKE ALL ON monitor_snapshots FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON monitor_snapshots TO citwatch_server;
)sql");

const pg::Migration kMigrations[] = {
    {1, "latest monitor state per vehicle (a cache for start-up)", kSnapshotSchemaSql},
};

}  // namespace

absl::Status PostgresSnapshotStore::Migrate(pqxx::connection& c) {
  return pg::ApplyMigrations(c, "monitor_snapshots", kMigrations);
}

absl::StatusOr<std::unique_ptr<PostgresSnapshotStore>> PostgresSnapshotStore::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  if (absl::Status s = (*session)->Run("migrating monitor_snapshots", Migrate); !s.ok()) return s;
  return std::unique_ptr<PostgresSnapshotStore>(new PostgresSnapshotStore(*std::move(session)));
}

absl::Status PostgresSnapshotStore::Put(std::span<const StoredSnapshot> snapshots) {
  if (snapshots.empty()) return absl::OkStatus();
  return session_->Run("storing monitor snapshots", [&](pqxx::connection& c) {
    pqxx::work w(c);
    for (const StoredSnapshot& s : snapshots) {
      w.exec_params(
          "INSERT INTO monitor_snapshots (vehicle_id, run_id, plan_version, last_seq, taken_ns, "
          "bytes) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (vehicle_id) DO UPDATE SET "
          "run_id = $2, plan_version = $3, last_seq = $4, taken_ns = $5, bytes = $6",
          s.vehicle_id, s.run_id, static_cast<int64_t>(s.plan_version),
          static_cast<int64_t>(s.last_seq), s.taken_ns, pqxx::binarystring(s.bytes));
    }
    w.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<StoredSnapshot>> PostgresSnapshotStore::Get(
    std::string_view vehicle_id) {
  return session_->Run("reading a monitor snapshot",
                       [&](pqxx::connection& c) -> absl::StatusOr<std::optional<StoredSnapshot>> {
                         pqxx::read_transaction t(c);
                         return ReadPostgresSnapshot(t, vehicle_id);
                       });
}

std::optional<StoredSnapshot> ReadPostgresSnapshot(pqxx::transaction_base& t,
                                                   std::string_view vehicle_id) {
  pqxx::result r = t.exec_params(
      "SELECT run_id, plan_version, last_seq, taken_ns, bytes FROM monitor_snapshots "
      "WHERE vehicle_id = $1",
      std::string(vehicle_id));
  if (r.empty()) return std::nullopt;
  StoredSnapshot s;
  s.vehicle_id = std::string(vehicle_id);
  s.run_id = r[0][0].as<std::string>();
  s.plan_version = r[0][1].as<uint32_t>();
  s.last_seq = r[0][2].as<uint64_t>();
  s.taken_ns = r[0][3].as<int64_t>();
  s.bytes = pg::Bytes(r[0][4]);
  return s;
}

}  // namespace cit::dispatch
