#include "dispatch-server/server/run_monitoring.h"

#include <algorithm>

#include "dispatch-server/server/monitoring_stores.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<RunMonitoring>> RunMonitoring::Open(
    const RunMonitoringOptions& options, const Clock* clock) {
  std::unique_ptr<RunMonitoring> rm(new RunMonitoring());
  rm->compile_threads_ = std::max(1, options.compile_threads);
  absl::StatusOr<MonitoringStores> stores =
      OpenMonitoringStores({.database_path = options.database_path,
                            .postgres_connection = options.postgres_connection,
                            .instance = options.instance,
                            .alert_durability = options.alert_durability});
  if (!stores.ok()) return stores.status();
  rm->run_store_ = std::move(stores->runs);
  rm->alert_store_ = std::move(stores->alerts);
  rm->alerts_ = std::make_unique<AlertManager>(rm->alert_store_.get(), clock);
  if (!options.postgres_connection.empty()) {
    rm->alert_follow_interval_ = options.alert_follow_interval;
    rm->plan_follow_interval_ = options.plan_follow_interval;
  }
  if (absl::Status s = rm->alerts_->Load(); !s.ok()) return s;
  rm->runs_ = std::make_unique<RunManager>(rm->run_store_.get(), clock);
  if (absl::Status s = rm->runs_->Load(); !s.ok()) return s;
  rm->snapshot_writer_ =
      std::make_unique<SnapshotWriter>(std::move(stores->snapshots), rm->alerts_.get());
  rm->monitor_ = std::make_unique<Monitor>(rm->alerts_.get(), clock, options.monitor);
  SnapshotWriter* snapshot_writer = rm->snapshot_writer_.get();
  rm->monitor_->SetSnapshotSink(
      [snapshot_writer](StoredSnapshot s) { snapshot_writer->Post(std::move(s)); });
  Monitor* monitor = rm->monitor_.get();
  // Stored off the monitor thread: the write's fsync must not delay alerts.
  rm->activation_writer_ = std::make_unique<RunActivationWriter>(rm->runs_.get());
  RunActivationWriter* writer = rm->activation_writer_.get();
  Monitor::RunActivated on_activated = [writer](const std::string& run_id, SysTime t) {
    writer->Post(run_id, t);
  };
  rm->monitor_->SetRunActivatedCallback(on_activated);
  // Plans are compiled after the ports open (Start): until its run is ready and the vehicle's
  // state is rebuilt from the store (StateRebuilder), its records wait in the monitor instead of
  // being judged without a plan or from a blank state.
  const std::vector<std::string> pending = rm->runs_->PendingLiveVehicles();
  rm->monitor_->HoldVehicles(pending);
  if (!pending.empty()) rm->monitor_->SetRestartTime(clock->Now());
  StateRebuildOptions rebuild = options.rebuild;
  rebuild.open_source = stores->open_source;
  rebuild.monitor = options.monitor;
  rm->rebuilder_ = std::make_unique<StateRebuilder>(
      rebuild, rm->alert_store_.get(), rm->alerts_.get(), monitor, on_activated, clock->Now());
  // Before any rebuild starts: a run whose plan changed while live is replayed version by version.
  rm->rebuilder_->SetVersionSource([store = rm->run_store_.get()](const std::string& run_id) {
    return store->Versions(run_id);
  });
  rm->rebuilder_->Expect(pending);
  // Vehicles heard within the warm-up but without a live run: crew on board, doors, seals and
  // motion are rebuilt too, so a run dispatched after the restart finds them.
  if (auto reader = stores->open_source(); reader.ok()) {
    const auto since = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        clock->Now() - FromSeconds(rebuild.warmup_s));
    if (auto heard = (*reader)->VehiclesHeardSince(since); heard.ok()) {
      std::vector<std::string> idle;
      for (const std::string& id : *heard) {
        if (std::find(pending.begin(), pending.end(), id) == pending.end()) idle.push_back(id);
      }
      if (!idle.empty()) {
        rm->monitor_->SetRestartTime(clock->Now());
        rm->monitor_->HoldVehicles(idle);
        rm->rebuilder_->ExpectIdle(idle);
      }
    }
  }
  StateRebuilder* rebuilder = rm->rebuilder_.get();
  rm->runs_->SetListener([rebuilder](const RunChange& c) { rebuilder->OnRunChanged(c); });
  for (const RunChange& c : rm->runs_->LiveRuns()) rm->monitor_->OnRunChanged(c);
  if (!options.postgres_connection.empty() && !options.instance.empty()) {
    // Before the monitor runs: vehicles another instance owns raise nothing here.
    absl::StatusOr<std::unique_ptr<OwnershipFollower>> ownership =
        OwnershipFollower::Open({.instance = options.instance,
                                 .postgres_connection = options.postgres_connection,
                                 .poll_interval = options.ownership_poll_interval,
                                 .instance_expiry = options.instance_expiry},
                                monitor, rebuilder, rm->runs_.get(), clock);
    if (!ownership.ok()) return ownership.status();
    rm->ownership_ = *std::move(ownership);
    // Every instance shows the whole fleet: its own vehicles, and the others' as their owners
    // published them.
    absl::StatusOr<std::unique_ptr<PostgresFleetStates>> table =
        PostgresFleetStates::Open(options.postgres_connection);
    if (!table.ok()) return table.status();
    rm->shared_fleet_ = std::make_unique<SharedFleet>(
        SharedFleetOptions{.instance = options.instance, .interval = options.fleet_throttle},
        *std::move(table), monitor, rm->ownership_.get(), clock);
    // A fenced alert (this instance was paused past a takeover) releases its vehicle at once.
    OwnershipFollower* follower = rm->ownership_.get();
    rm->alerts_->SetFencedListener([follower](const AlertStore::FencedEvent& f) {
      follower->OnFenced(f.vehicle_id, f.owner, f.fencing_token);
    });
  }
  std::function<cit::v1::Fleet()> fleet_source = [monitor] { return monitor->Fleet(); };
  if (SharedFleet* shared = rm->shared_fleet_.get()) {
    fleet_source = [shared] { return shared->Fleet(); };
  }
  rm->fleet_feed_ = std::make_unique<FleetFeed>(std::move(fleet_source), options.fleet_throttle);
  rm->dispatch_service_ = std::make_unique<DispatchService>(rm->runs_.get(), rm->fleet_feed_.get());
  rm->alerts_service_ = std::make_unique<AlertsService>(rm->alerts_.get());
  return rm;
}

RunMonitoring::~RunMonitoring() { Stop(); }

void RunMonitoring::Register(DispatchServer::Builder& builder) {
  alerts_->SetMetrics(builder.shared_metrics());
  runs_->SetMetrics(builder.shared_metrics());
  rebuilder_->SetMetrics(builder.shared_metrics());
  builder.AddOperatorService(dispatch_service_.get())
      .AddOperatorService(alerts_service_.get())
      .AddObserver(monitor_.get())
      .AddStreamCloser([this] {
        alerts_service_->EndStreams();
        fleet_feed_->EndStreams();
      });
  if (shared_fleet_) shared_fleet_->SetMetrics(builder.shared_metrics());
  if (ownership_) {
    ownership_->SetMetrics(builder.shared_metrics());
    // Adoptions go through the store the ingest writes with (its fencing tokens).
    if (absl::StatusOr<std::shared_ptr<Store>> store = builder.store(); store.ok()) {
      ownership_->SetStore(*store);
    } else {
      spdlog::error("event=vehicle_adoption_disabled error=\"{}\"", store.status().ToString());
    }
    OwnershipFollower* ownership = ownership_.get();
    builder.SetTakeoverListener([ownership](const std::string& vehicle, uint64_t token) {
      ownership->OnTakenOver(vehicle, token);
    });
  }
}

void RunMonitoring::Start() {
  if (alert_follow_interval_) {
    // Several instances on one database publish each other's alerts; after SetMetrics.
    absl::Status s = alerts_->StartFollowing({.interval = *alert_follow_interval_});
    if (!s.ok()) spdlog::error("event=alert_follow_not_started error=\"{}\"", s.ToString());
    alert_follow_interval_.reset();
  }
  if (plan_follow_interval_) {
    // Runs planned, edited, dispatched or ended on other instances are applied here too.
    absl::Status s = runs_->StartFollowing({.interval = *plan_follow_interval_});
    if (!s.ok()) spdlog::error("event=plan_follow_not_started error=\"{}\"", s.ToString());
    plan_follow_interval_.reset();
  }
  monitor_->Start();
  if (ownership_) ownership_->Start();
  if (shared_fleet_) shared_fleet_->Start();
  fleet_feed_->Start();
  if (!compile_thread_.joinable()) {
    compile_thread_ =
        std::thread([this] { runs_->CompilePending(stop_compiling_, compile_threads_); });
  }
}

void RunMonitoring::Stop() {
  if (runs_) runs_->StopFollowing();  // it publishes to the rebuilder and monitor stopped below
  stop_compiling_ = true;
  if (compile_thread_.joinable()) compile_thread_.join();
  if (ownership_) {
    if (alerts_) alerts_->SetFencedListener(nullptr);  // the persister outlives the follower
    ownership_->Stop();
  }
  if (rebuilder_) rebuilder_->Stop();
  if (fleet_feed_) fleet_feed_->Stop();
  if (shared_fleet_) shared_fleet_->Stop();
  if (monitor_) monitor_->Stop();
  if (snapshot_writer_) snapshot_writer_->Stop();
  if (activation_writer_) activation_writer_->Stop();
}

}  // namespace cit::dispatch
