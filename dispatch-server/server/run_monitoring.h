// Everything of issue 4 assembled for the server: run and alert stores in the server's
// database (SQLite file or PostgreSQL, server/monitoring_stores.h), RunManager, AlertManager,
// Monitor (with its thread), the fleet feed (WatchFleet, its thread) and the Dispatch and Alerts
// services, registered on a DispatchServer::Builder in one call.
//
//   absl::StatusOr<std::unique_ptr<RunMonitoring>> rm =
//       RunMonitoring::Open({.database_path = opts.database_path}, &system_clock);
//   (*rm)->Register(builder);     // operator services, record observer, alert metrics
//   auto server = builder.Start();
//   (*rm)->Start();               // monitor thread
//   ...
//   (*server)->Shutdown();  (*rm)->Stop();
//
// On start-up the live (dispatched/active) runs are loaded and tracked again; alerts and their
// event ids continue from the store, so watchers resume across a server restart. Their plans
// are compiled on background threads (compile_threads) started by Start(), after the ports are
// open (six 8,000-point plans took 24 s): a vehicle's records wait in the monitor until its run is
// ready (Monitor::HoldVehicles); the log says "event=plans_compiling count=N", then
// "event=plans_compiled"; runs().compiling() counts those still waiting. Each compiled live run's
// monitor state is then rebuilt from the store before its records are judged
// (monitor/state_rebuild.h: "event=state_rebuilt", then "event=state_rebuild_done"); rebuilding()
// counts those still waiting. While running, the monitor snapshots each live run's state every
// monitor.snapshot_interval_s into the database (monitor/snapshot_writer.h), so the next start-up
// re-evaluates only the records after the snapshot.
//
// Thread contract: Open/Register/Start/Stop from one thread; the parts are thread-safe.
#ifndef CIT_DISPATCH_SERVER_SERVER_RUN_MONITORING_H_
#define CIT_DISPATCH_SERVER_SERVER_RUN_MONITORING_H_

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/api/alerts_service.h"
#include "dispatch-server/api/dispatch_service.h"
#include "dispatch-server/api/fleet_feed.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/monitor/snapshot_writer.h"
#include "dispatch-server/monitor/state_rebuild.h"
#include "dispatch-server/plans/run_activation_writer.h"
#include "dispatch-server/plans/run_manager.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/ownership_follower.h"
#include "dispatch-server/server/shared_fleet.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

struct RunMonitoringOptions {
  std::filesystem::path database_path = "dispatch.db";
  // Empty: runs, alerts and monitor snapshots in database_path (SQLite), and the restart rebuild
  // reads the records there. Otherwise all of them in the PostgreSQL database of this libpq
  // connection string ([store] backend = "postgresql"; server/monitoring_stores.h).
  std::string postgres_connection;
  MonitorOptions monitor;
  // SQLite only. Alert events are written off the fix-to-alert path (AlertManager's persister
  // thread, in groups), so full durability costs no alert latency.
  sqlite::Durability alert_durability = sqlite::Durability::kFull;
  // PostgreSQL: how often the alert-event log is read for other instances' alerts
  // (AlertManager::StartFollowing, from Start).
  std::chrono::milliseconds alert_follow_interval{200};
  // PostgreSQL with several instances: this instance's [store] instance name. Non-empty: the
  // monitor follows vehicle ownership (server/ownership_follower.h), reading the owners every
  // ownership_poll_interval, and the fleet view is shared with the other instances every
  // fleet_throttle (server/shared_fleet.h).
  std::string instance;
  std::chrono::milliseconds ownership_poll_interval{1000};
  // PostgreSQL: how often the plan log is read for other instances' run changes
  // (RunManager::StartFollowing, from Start).
  std::chrono::milliseconds plan_follow_interval{200};
  // An instance whose heartbeat is older than this is dead and its vehicles are adopted
  // ([store] instance_expiry_ms; OwnershipFollowerOptions::instance_expiry).
  std::chrono::milliseconds instance_expiry{10'000};
  // WatchFleet sends each vehicle at most once per this interval.
  std::chrono::milliseconds fleet_throttle{1000};
  // Start-up: live runs' monitor state rebuilt from the store (database_path and monitor are
  // taken from above).
  StateRebuildOptions rebuild;
  // Start-up: plans compiled at once (RunManager::CompilePending); one per core.
  int compile_threads = 2;
};

class RunMonitoring {
 public:
  static absl::StatusOr<std::unique_ptr<RunMonitoring>> Open(const RunMonitoringOptions& options,
                                                             const Clock* clock);
  ~RunMonitoring();
  RunMonitoring(const RunMonitoring&) = delete;
  RunMonitoring& operator=(const RunMonitoring&) = delete;

  // Adds the Dispatch and Alerts services to the operator port and the monitor as observer.
  void Register(DispatchServer::Builder& builder);
  // Starts the monitor thread and the background compile of the loaded plans.
  void Start();
  void Stop();

  RunManager& runs() { return *runs_; }
  AlertManager& alerts() { return *alerts_; }
  Monitor& monitor() { return *monitor_; }
  FleetFeed& fleet_feed() { return *fleet_feed_; }
  // Live runs whose state is still being rebuilt from the store (0 once start-up is done).
  size_t rebuilding() const { return rebuilder_->pending(); }
  const StateRebuilder& rebuilder() const { return *rebuilder_; }
  // Set with several instances (RunMonitoringOptions::instance), else null.
  OwnershipFollower* ownership() { return ownership_.get(); }
  // Set with several instances too, else null: the fleet view across them.
  SharedFleet* shared_fleet() { return shared_fleet_.get(); }
  SnapshotWriter& snapshots() { return *snapshot_writer_; }
  AlertsService& alerts_service() { return *alerts_service_; }
  DispatchService& dispatch_service() { return *dispatch_service_; }

 private:
  RunMonitoring() = default;
  std::unique_ptr<RunStore> run_store_;
  std::unique_ptr<AlertStore> alert_store_;
  std::unique_ptr<AlertManager> alerts_;
  std::unique_ptr<RunManager> runs_;
  std::unique_ptr<RunActivationWriter> activation_writer_;  // outlived by runs_, outlives monitor_
  std::unique_ptr<SnapshotWriter> snapshot_writer_;         // outlives monitor_ (its sink)
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<StateRebuilder> rebuilder_;     // feeds monitor_
  std::unique_ptr<OwnershipFollower> ownership_;  // drives monitor_ and rebuilder_
  std::unique_ptr<SharedFleet> shared_fleet_;     // reads monitor_ and ownership_
  std::unique_ptr<FleetFeed> fleet_feed_;         // reads monitor_ or shared_fleet_
  std::unique_ptr<DispatchService> dispatch_service_;
  std::unique_ptr<AlertsService> alerts_service_;
  int compile_threads_ = 2;
  // Set on PostgreSQL until Start begins following other instances' alerts.
  std::optional<std::chrono::milliseconds> alert_follow_interval_;
  std::optional<std::chrono::milliseconds> plan_follow_interval_;  // likewise for run changes
  std::atomic<bool> stop_compiling_{false};
  std::thread compile_thread_;  // RunManager::CompilePending, once
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_RUN_MONITORING_H_
