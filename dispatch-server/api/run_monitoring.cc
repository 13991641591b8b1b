#include "dispatch-server/api/run_monitoring.h"

#include "spdlog/spdlog.h"

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<RunMonitoring>> RunMonitoring::Open(
    const RunMonitoringOptions& options, const Clock* clock) {
  std::unique_ptr<RunMonitoring> rm(new RunMonitoring());
  auto run_store = SqliteRunStore::Open(options.database_path);
  if (!run_store.ok()) return run_store.status();
  rm->run_store_ = std::move(*run_store);
  auto alert_store = SqliteAlertStore::Open(options.database_path, options.alert_durability);
  if (!alert_store.ok()) return alert_store.status();
  rm->alert_store_ = std::move(*alert_store);
  rm->alerts_ = std::make_unique<AlertManager>(rm->alert_store_.get(), clock);
  if (absl::Status s = rm->alerts_->Load(); !s.ok()) return s;
  rm->runs_ = std::make_unique<RunManager>(rm->run_store_.get(), clock);
  if (absl::Status s = rm->runs_->Load(); !s.ok()) return s;
  rm->monitor_ = std::make_unique<Monitor>(rm->alerts_.get(), clock, options.monitor);
  Monitor* monitor = rm->monitor_.get();
  RunManager* runs = rm->runs_.get();
  rm->runs_->SetListener([monitor](const RunChange& c) { monitor->OnRunChanged(c); });
  rm->monitor_->SetRunActivatedCallback([runs](const std::string& run_id, SysTime t) {
    absl::StatusOr<cit::v1::Run> r = runs->MarkActive(run_id, t);
    if (!r.ok())
      spdlog::error("monitor: marking run {} active failed: {}", run_id, r.status().ToString());
  });
  for (const RunChange& c : rm->runs_->LiveRuns()) rm->monitor_->OnRunChanged(c);
  rm->dispatch_service_ = std::make_unique<DispatchService>(rm->runs_.get(), rm->monitor_.get());
  rm->alerts_service_ = std::make_unique<AlertsService>(rm->alerts_.get());
  return rm;
}

RunMonitoring::~RunMonitoring() { Stop(); }

void RunMonitoring::Register(DispatchServer::Builder& builder) {
  builder.AddOperatorService(dispatch_service_.get())
      .AddOperatorService(alerts_service_.get())
      .AddObserver(monitor_.get());
}

void RunMonitoring::Start() { monitor_->Start(); }

void RunMonitoring::Stop() {
  if (monitor_) monitor_->Stop();
}

}  // namespace cit::dispatch
