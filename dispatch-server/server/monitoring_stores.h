// The stores behind RunMonitoring on the configured backend ([store] backend, issue 15): run
// versions and the plan log, alerts and their event log, monitor snapshots, and the source the
// restart rebuild reads records from. SQLite: all in the server's database file; PostgreSQL: all
// in the database that also holds the records (PostgresStore).
//
//   absl::StatusOr<MonitoringStores> stores = OpenMonitoringStores(options);
//   RunManager runs(stores->runs.get(), &clock);
//
// The audit trail (checkpoints, identity log; on PostgreSQL too: audit_trail.h), the
// notification outbox and period reports (both on the backend) are opened elsewhere
// (server_assembly.cc).
//
// Thread contract: OpenMonitoringStores is thread-safe; see each store for its own.
#ifndef CIT_DISPATCH_SERVER_SERVER_MONITORING_STORES_H_
#define CIT_DISPATCH_SERVER_SERVER_MONITORING_STORES_H_

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/plans/run_store.h"
#include "dispatch-server/store/replay_source.h"
#include "dispatch-server/store/snapshot_store.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

struct MonitoringStoreOptions {
  std::filesystem::path database_path = "dispatch.db";
  // Empty: SQLite in database_path. Otherwise the libpq connection string of the PostgreSQL
  // database ([store] connection).
  std::string postgres_connection;
  // PostgreSQL: this instance's name among those sharing the database ([store] instance); the
  // alert store fences the monitor's events for vehicles another instance owns. Empty: alone.
  std::string instance;
  // SQLite only: the alert store's synchronous setting (PostgreSQL always commits durably).
  sqlite::Durability alert_durability = sqlite::Durability::kFull;
};

struct MonitoringStores {
  std::unique_ptr<RunStore> runs;
  std::unique_ptr<AlertStore> alerts;
  std::unique_ptr<SnapshotStore> snapshots;  // for the snapshot writer's thread
  ReplaySourceFactory open_source;           // one source per rebuild worker
};

// Opens (and migrates) the three stores; the snapshot table exists once this returns, so a
// rebuild can read it.
absl::StatusOr<MonitoringStores> OpenMonitoringStores(const MonitoringStoreOptions& options);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_MONITORING_STORES_H_
