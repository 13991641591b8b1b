// Monitor state rebuilt from the store at start-up (issue 12 §1), so that a restarted server
// judges its live runs exactly as if it had never stopped: stop progress and statuses, arrival
// and departure times, crew on board, doors and seals, deviation / stop / GNSS / link state, last
// fix, motion and corridor hint.
//
// How: each live run's stored records are evaluated again, in the order the old process received
// them (chain order), by a private Monitor whose clock follows each record's stored server receive
// time: the same code path as live evaluation, so the rebuilt state is the state the old process
// had, by construction, for every rule. When the vehicle has a usable snapshot of its monitor
// state (monitor/state_snapshot.h, written every MonitorOptions::snapshot_interval_s by the live
// monitor), the private monitor starts from it and evaluates only the records after it; a
// snapshot that is missing, of another run or plan version, does not decode or verify, or ends
// at a record that is not stored is not used (the whole run is replayed; the reason is logged
// and counted in cit_state_rebuild_snapshot_fallbacks_total{reason}). A ReplayGate
// (alerts/replay_gate.h) matches the signals against the run's stored alert events: what is already
// stored is not raised again, what was never raised is not raised now (no false alert from a
// rebuild), and what was evaluated but lost in a kill -9 before its alert event was stored (the
// last seconds: `tail_s`) is raised. The state then moves into the live monitor (Monitor::Adopt),
// which arms its deadlines again; deadlines that fell due while the server was down fire on its
// first tick, once, marked so.
//
//   StateRebuilder rebuilder(options, &alert_store, &alerts, &monitor, clock.Now());
//   rebuilder.Expect(run_manager.PendingLiveVehicles());   // before any run change is published
//   run_manager.SetListener([&](const RunChange& c) { rebuilder.OnRunChanged(c); });
//   ... runs.CompilePending(stop);   // each compiled live run is rebuilt on a worker thread
//
// Records of the expected vehicles wait in the monitor (Monitor::HoldVehicles) until their state
// is adopted; run changes published meanwhile (an operator completing the run) are forwarded
// after it, in order.
//
// Thread contract: OnRunChanged and Expect are thread-safe and never block on a rebuild (the
// work runs on `threads` worker threads); Stop joins them.
#ifndef CIT_DISPATCH_SERVER_MONITOR_STATE_REBUILD_H_
#define CIT_DISPATCH_SERVER_MONITOR_STATE_REBUILD_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/plans/run_manager.h"
#include "dispatch-server/store/replay_source.h"

namespace cit::dispatch {

struct StateRebuildOptions {
  // Opens a source on the server's record store (SQLite or PostgreSQL); each worker opens its
  // own. Required: without it every rebuild fails (and is logged).
  ReplaySourceFactory open_source;
  // Records received this long before the run was dispatched are evaluated first, silently
  // (the vehicle was judged without the run then): motion, last fix, GNSS, doors, seals and
  // crew check-ins at the depot.
  double warmup_s = 3600;
  // A signal of a record received this close to the last stored record that is not in the alert
  // store was lost with the process (alert events are stored a few milliseconds after the
  // signal): it is raised. Earlier ones were judged before the restart and are not raised.
  double tail_s = 10;
  int threads = 2;
  // Start from the vehicle's stored monitor snapshot when it is usable (see above).
  bool use_snapshots = true;
  MonitorOptions monitor;
};

// A version of a run's plan and when it took effect (its created_time: an update of a live run
// applies from that moment, issue 12 §5).
struct PlanInForce {
  SysTime from;
  RunChange change;
};

// The versions a live run was judged against before its current one, oldest first: the version
// in force at the dispatch, then every later one. Empty when the current version was already in
// force at the dispatch (the common case: nothing to compile). `versions`: every stored version
// of the run (RunStore::Versions). A version that no longer compiles makes it empty too (logged:
// the run is then replayed with its current version throughout, as before).
std::vector<PlanInForce> EarlierPlans(const RunChange& change,
                                      const std::vector<cit::v1::Run>& versions);

// What rebuilding one vehicle found.
struct VehicleRebuild {
  std::unique_ptr<VehicleState> state;
  uint64_t warmup_records = 0;
  uint64_t run_records = 0;
  ReplayGate::Counts gate;
  // Started from a snapshot (only the records after it were evaluated).
  bool from_snapshot = false;
  // With a run, why no snapshot was used (empty when one was): none, other_run,
  // other_plan_version, unreadable, corrupt, mismatch, record_missing.
  std::string snapshot_fallback;
  std::string snapshot_detail;  // for the log
  // Thread time spent (reading, decoding and evaluating).
  double seconds = 0;
};

// Rebuilds one vehicle's state from `source` (records received before `records_before`, on the
// ingest's clock; without a run, those received within warmup_s before `restarted` on the
// monitor's clock) and, with a live run (`change`), the run's stored alert events. Each record
// is judged against the plan version in force when it was received: `earlier` (EarlierPlans)
// until the current version took effect. Signals that must be raised go to `alerts`;
// `on_activated` is told if the vehicle left its depot (MarkActive is idempotent). Without a run
// only the warm-up is evaluated, silently.
absl::StatusOr<VehicleRebuild> RebuildVehicle(ReplaySource& source, AlertStore& alert_store,
                                              AlertManager& alerts, const std::string& vehicle_id,
                                              const RunChange* change,
                                              std::chrono::system_clock::time_point records_before,
                                              SysTime restarted, const StateRebuildOptions& options,
                                              const Monitor::RunActivated& on_activated,
                                              const std::vector<PlanInForce>& earlier = {});

class StateRebuilder {
 public:
  StateRebuilder(StateRebuildOptions options, AlertStore* alert_store, AlertManager* alerts,
                 Monitor* monitor, Monitor::RunActivated on_activated, SysTime restarted);
  ~StateRebuilder();
  StateRebuilder(const StateRebuilder&) = delete;
  StateRebuilder& operator=(const StateRebuilder&) = delete;

  // These vehicles' first live run change is rebuilt before it reaches the monitor. Records
  // received from now on (ingest clock) are not replayed: the monitor sees them live.
  void Expect(const std::vector<std::string>& vehicle_ids);
  // These vehicles have no live run but were heard within warmup_s before the restart: their
  // state (crew on board, doors, seals, motion) is rebuilt silently right away.
  void ExpectIdle(const std::vector<std::string>& vehicle_ids);
  // Several instances on one database (issue 15 §3): this instance just took the vehicle over
  // from another (its fencing token), whose evaluation this monitor did not see. Its state is
  // rebuilt from the store as at a restart -- `live`: its live run (compiled), if any; records
  // received before now are replayed, the stored alert events of the run are matched -- and
  // adopted by the monitor, which holds the vehicle's new records meanwhile (Monitor::Resume,
  // called by the caller before). A rebuild of the vehicle already waiting or under way reads
  // up to the takeover instead (it is started again if it had read less). `now`: monitor clock.
  void Retake(const std::string& vehicle_id, std::optional<RunChange> live, SysTime now);
  // The RunManager's listener.
  void OnRunChanged(const RunChange& change);
  // Where the stored versions of a run come from (RunStore::Versions), so that a run whose plan
  // changed while it was live is replayed with each version in its time. Without it the current
  // version is used throughout. Set before the first run is rebuilt.
  using VersionSource =
      std::function<absl::StatusOr<std::vector<cit::v1::Run>>(const std::string& run_id)>;
  void SetVersionSource(VersionSource versions);
  // Vehicles expected or being rebuilt.
  size_t pending() const;
  // cit_state_rebuild_snapshots_used_total and cit_state_rebuild_snapshot_fallbacks_total
  // {reason}. Call before the first live run is rebuilt.
  void SetMetrics(std::shared_ptr<MetricsRegistry> registry);
  // Live runs rebuilt from a snapshot / by replaying the whole run, so far.
  uint64_t from_snapshot() const;
  uint64_t full_replays() const;
  // Full replays by why no snapshot was used (VehicleRebuild::snapshot_fallback).
  std::map<std::string, uint64_t> fallbacks() const;
  void Stop();

 private:
  // Where a takeover's rebuild stops reading (ingest clock) and ends its warm-up (monitor clock).
  struct Bound {
    std::chrono::system_clock::time_point records_before;
    SysTime restarted;
  };
  struct Job {
    std::string vehicle_id;
    std::optional<RunChange> change;  // none: no live run, warm-up only
    std::optional<Bound> bound;       // none: start-up (records_before_, restarted_)
  };
  void StartWorkersLocked();
  void Work();
  void Finish(const Job& job, absl::StatusOr<VehicleRebuild> rebuilt);
  // Counts (and logs why not) the use of a snapshot; mu_ held.
  void CountSnapshotUse(const std::string& vehicle_id, const VehicleRebuild& rebuilt);

  StateRebuildOptions options_;
  AlertStore* alert_store_;
  AlertManager* alerts_;
  Monitor* monitor_;
  Monitor::RunActivated on_activated_;
  std::chrono::system_clock::time_point records_before_;
  SysTime restarted_;  // monitor clock: the warm-up of vehicles without a run ends here

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, bool> expected_;  // vehicle -> rebuild started
  // Changes published while the vehicle is being rebuilt, forwarded after it.
  std::map<std::string, std::vector<RunChange>> deferred_;
  // Takeovers of vehicles whose rebuild was waiting or under way (Retake): read up to here.
  std::map<std::string, Bound> retake_bound_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
  // Totals for the summary log line.
  std::shared_ptr<MetricsRegistry> metrics_;
  VersionSource versions_;
  uint64_t from_snapshot_ = 0;
  uint64_t full_replays_ = 0;
  std::map<std::string, uint64_t> fallbacks_;
  uint64_t runs_done_ = 0;
  uint64_t records_done_ = 0;
  double thread_s_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MONITOR_STATE_REBUILD_H_
