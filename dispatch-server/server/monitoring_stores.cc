#include "dispatch-server/server/monitoring_stores.h"

#include "dispatch-server/store/postgres_alert_store.h"
#include "dispatch-server/store/postgres_replay_reader.h"
#include "dispatch-server/store/postgres_run_store.h"
#include "dispatch-server/store/postgres_snapshot_store.h"
#include "dispatch-server/store/sqlite_alert_store.h"
#include "dispatch-server/store/sqlite_replay_reader.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "dispatch-server/store/sqlite_snapshot_store.h"

namespace cit::dispatch {
namespace {

// Moves an opened store into the field of its interface type; false (and `status` set) if it
// failed to open.
template <typename Base, typename T>
bool Take(absl::StatusOr<std::unique_ptr<T>> opened, std::unique_ptr<Base>& into,
          absl::Status& status) {
  if (!opened.ok()) {
    status = opened.status();
    return false;
  }
  into = std::move(*opened);
  return true;
}

template <typename Reader, typename Arg>
ReplaySourceFactory SourceFactory(Arg where) {
  return [where]() -> absl::StatusOr<std::unique_ptr<ReplaySource>> {
    auto reader = Reader::Open(where);
    if (!reader.ok()) return reader.status();
    return std::unique_ptr<ReplaySource>(std::move(*reader));
  };
}

}  // namespace

absl::StatusOr<MonitoringStores> OpenMonitoringStores(const MonitoringStoreOptions& options) {
  MonitoringStores stores;
  absl::Status status;
  const std::string& pg = options.postgres_connection;
  const std::filesystem::path& path = options.database_path;
  if (!pg.empty()) {
    if (Take(PostgresRunStore::Open(pg), stores.runs, status) &&
        Take(PostgresAlertStore::Open(pg, options.instance), stores.alerts, status) &&
        Take(PostgresSnapshotStore::Open(pg), stores.snapshots, status)) {
      stores.open_source = SourceFactory<PostgresReplayReader>(pg);
    }
  } else if (Take(SqliteRunStore::Open(path), stores.runs, status) &&
             Take(SqliteAlertStore::Open(path, options.alert_durability), stores.alerts, status) &&
             Take(SqliteSnapshotStore::Open(path), stores.snapshots, status)) {
    stores.open_source = SourceFactory<SqliteReplayReader>(path);
  }
  if (!status.ok()) return status;
  return stores;
}

}  // namespace cit::dispatch
