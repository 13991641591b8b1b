// The monitor (DESIGN §3, §6, §7): per-vehicle run state fed by accepted records, the rules,
// and the clock-driven deadlines. It receives records from the ingest as they are accepted,
// before their group commit (RecordObserver: enqueue only; see committed_record.h for why) and run
// changes from the RunManager, and evaluates them on its own thread in arrival order, which per
// vehicle is seq order (event time) except for alarms the agent sends ahead of its backlog;
// alarms may also overtake other vehicles' queued records (below).
//
//   Monitor monitor(&alert_manager, &clock);
//   run_manager.SetListener([&](const RunChange& c) { monitor.OnRunChanged(c); });
//   monitor.SetRunActivatedCallback([&](const std::string& run, SysTime t) {
//     run_manager.MarkActive(run, t).IgnoreError(); });
//   for (const RunChange& c : run_manager.LiveRuns()) monitor.OnRunChanged(c);
//   monitor.Start();                       // own thread; ticks the timer wheel every 50 ms
//   server_builder.AddObserver(&monitor);  // accepted records flow in
//
// Tests and benchmarks may skip Start() and drive it synchronously with RunOnce(), and inject a
// FakeClock: deadlines fire on RunOnce()/the thread's tick once the clock passes them.
//
// Alarms ahead of other vehicles' work: DESIGN §7 asks for each vehicle's records in seq order,
// not for one order across vehicles, so with the thread running a small batch holding an alarm
// (panic, door, seal) of a vehicle that has nothing queued or being evaluated -- no record, run
// change or adopted state of its own still waiting -- need not wait for other vehicles' queued
// records (on a busy machine that queue was the tail of fix-to-alert latency: docs/benchmarks.md,
// "Live alert latency"). Such a batch is
//   - evaluated on arrival, on the thread that delivers it (the ingest's gRPC thread), when the
//     state lock is free: the alert does not wait for the monitor thread to be woken and
//     scheduled. The monitor thread takes the state lock one queued item at a time, so it is
//     free between items even while a long queue drains;
//   - otherwise (the lock is held: a record being evaluated, a tick, a Fleet() read) queued in a
//     lane of its own that the monitor thread takes before anything else, after the item it is
//     evaluating.
// A vehicle's later records queue behind its alarm, and an alarm of a vehicle with something
// still waiting queues behind it like any other record, so each vehicle's records are evaluated
// in the order they were accepted. The batch is evaluated whole and in order.
//
// Thread contract: OnAccepted / OnRunChanged / Adopt are thread-safe and never block on
// evaluation (a short mutex to append to the queue; an alarm batch evaluated on arrival only
// try-locks the state). Evaluation happens on the monitor thread, on arrival as above, or in
// RunOnce() (no thread), one item at a time under the state lock. Fleet() is thread-safe.
#ifndef CIT_DISPATCH_SERVER_MONITOR_MONITOR_H_
#define CIT_DISPATCH_SERVER_MONITOR_MONITOR_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/common/timer_wheel.h"
#include "dispatch-server/plans/run_manager.h"
#include "dispatch-server/rules/rules.h"
#include "dispatch-server/rules/vehicle_state.h"
#include "dispatch-server/store/committed_record.h"
#include "dispatch-server/store/replay_source.h"

namespace cit::dispatch {

struct MonitorOptions {
  // A record evaluated this much later (monitor clock) than it happened is backfill (it sat in
  // the agent's journal during a coverage gap): its alerts are marked delayed with the delay.
  double backfill_threshold_s = 10.0;
  // How often the monitor thread checks deadlines when no record arrives.
  Duration tick = std::chrono::milliseconds(50);
  // A door event that jumped ahead of older records waits at most this long for them before
  // it is judged against the last known position.
  double door_position_wait_s = 20.0;
  // Server-wide rule settings ([rules] in the server config; monitor/rule_policy_config.h).
  RulePolicy rules;
  // With a snapshot sink (SetSnapshotSink), each vehicle with a live run is snapshotted after
  // the first record evaluated this long after its previous snapshot (monitor clock): a restart
  // re-evaluates at most about this much history per run (monitor/state_rebuild.h). 0 = never.
  double snapshot_interval_s = 300.0;
};

class Monitor final : public RecordObserver, private DeadlineScheduler {
 public:
  using RunActivated = std::function<void(const std::string& run_id, SysTime started)>;

  Monitor(AlertManager* alerts, const Clock* clock, MonitorOptions options = {});
  ~Monitor() override;
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Called when a live run leaves its depot (dispatched -> active), on the monitor thread.
  void SetRunActivatedCallback(RunActivated cb) { on_run_activated_ = std::move(cb); }

  // RecordObserver: copies the batch into the queue and wakes the monitor thread.
  void OnAccepted(std::span<const CommittedRecord> batch) override;
  // A run was dispatched, changed, aborted or completed.
  void OnRunChanged(const RunChange& change);
  // Start-up, before records can arrive: these vehicles' live runs are still being compiled
  // (RunManager::CompilePending). Their records wait, in arrival order, until the vehicle's next
  // run change, then are evaluated against it: judged without their plan they would raise
  // MOVED_WITHOUT_RUN and miss stop arrivals.
  void HoldVehicles(const std::vector<std::string>& vehicle_ids);
  // Records waiting for their vehicle's run (HoldVehicles).
  std::size_t held_records() const;
  // Vehicles whose records wait for their run or their rebuilt state (HoldVehicles, Resume):
  // their state here is not current yet. Thread-safe.
  std::vector<std::string> HeldVehicles() const;
  // Start-up after a restart: a vehicle's state rebuilt from the store (monitor/state_rebuild.h)
  // replaces whatever the monitor has for it, its deadlines are armed again from the state, and
  // its held records are released. Queued like a run change (thread-safe).
  void Adopt(std::unique_ptr<VehicleState> state);
  // Deadlines (timer alerts) whose event time is before this fell due while the server was
  // down: their details say so. Set once, before Start().
  void SetRestartTime(SysTime restarted) { restarted_at_ = restarted; }
  // Receives the periodic snapshots (monitor/state_snapshot.h), on the monitor thread: it must
  // only enqueue (monitor/snapshot_writer.h stores them on its own thread). Set before Start().
  using SnapshotSink = std::function<void(StoredSnapshot)>;
  void SetSnapshotSink(SnapshotSink sink) { snapshot_sink_ = std::move(sink); }
  // Several instances on one database (issue 15 §3): another instance took the vehicle over,
  // so this one stops evaluating it: its pending deadlines are dropped, no time-driven alert
  // (COMMS_LOST, late stop, dwell, GNSS lost) fires for it, and records that still reach this
  // monitor for it (a stale stream whose commits the fencing token refuses) are not judged
  // (counted in records_of_released). Thread-safe, immediate.
  void Release(const std::string& vehicle_id);
  // This instance took the vehicle over again: its records wait (as with HoldVehicles) until
  // its state rebuilt from the store is adopted (Adopt), and it is evaluated again from then on.
  // `reachable_since`: the vehicle is adopted (its owner died), not taken over by its agent's new
  // stream, and its agent could have reached this instance since then: its silence counts from
  // its last record, or from then if later (COMMS_LOST at once if already due), instead of from
  // the adoption as after a restart.
  void Resume(const std::string& vehicle_id, std::optional<SysTime> reachable_since = {});
  // Vehicles released and not resumed; records not judged because their vehicle was released.
  std::size_t released_vehicles() const;
  uint64_t records_of_released() const { return records_of_released_.load(); }
  // Synchronous mode only (a private replay monitor): moves the vehicle's state out.
  std::unique_ptr<VehicleState> TakeVehicle(const std::string& vehicle_id);

  void Start();
  void Stop();
  // Evaluates everything queued, then fires due deadlines (synchronous mode).
  void RunOnce();
  // Waits until everything queued before the call has been evaluated (thread mode) and a tick
  // ran after it; in synchronous mode it is RunOnce().
  void Flush();

  // Evaluates one record right now (the in-process benchmark's entry point; RunOnce uses it).
  void Process(const CommittedRecord& record);
  // Fires deadlines due at clock->Now().
  void Tick();

  // Fleet view (GetFleet): every vehicle seen or with a live run.
  cit::v1::Fleet Fleet() const;

  uint64_t records_processed() const { return records_processed_.load(); }
  // Records evaluated on arrival (alarm batches, see above) instead of on the monitor thread.
  uint64_t records_evaluated_on_arrival() const { return evaluated_on_arrival_.load(); }
  // Records of alarm batches that found the state lock held and were queued ahead (alarms_).
  uint64_t records_queued_ahead() const { return queued_ahead_.load(); }
  // The monitor thread's id (default-constructed before Start()).
  std::thread::id thread_id() const { return thread_id_.load(); }
  // Largest alarm batch that goes ahead (on arrival or in alarms_): urgent copies and live
  // batches are a few records; a backlog batch that happens to hold a door event is queued.
  static constexpr size_t kMaxRecordsOnArrival = 16;

 private:
  class Sink;
  using Item = std::variant<CommittedRecord, RunChange, std::unique_ptr<VehicleState>>;

  VehicleState& Vehicle(const std::string& vehicle_id);
  bool IsReleased(const VehicleState& v) const {
    return v.index < released_.size() && released_[v.index];
  }
  void ProcessRecord(VehicleState& v, const CommittedRecord& record);
  // After a record of `v` was evaluated: hands a snapshot to the sink when one is due.
  void MaybeSnapshot(VehicleState& v, uint64_t seq);
  void ApplyRunChange(const RunChange& change);
  void ApplyAdopted(std::unique_ptr<VehicleState> state);
  // Evaluates the records held for `vehicle_id` (HoldVehicles), in order; state_mu_ held.
  void ReleaseHeld(const std::string& vehicle_id);
  void ProcessFix(VehicleState& v, const cit::v1::Record& r, SysTime server_time);
  // Door events that arrived ahead of older records: judged once the records before them are
  // evaluated. JudgeDoorsBefore runs before record `seq` (doors with a lower seq are due),
  // JudgeDoorsAfter after each record (doors right after the highest seq are due too),
  // JudgeAllDoors at the deadline and when the run ends.
  void JudgeDoorsBefore(VehicleState& v, uint64_t seq, Sink& sink);
  void JudgeDoorsAfter(VehicleState& v, Sink& sink);
  void JudgeAllDoors(VehicleState& v, Sink& sink);
  void Arrive(VehicleState& v, int stop, const FixContext& f, Sink& sink);
  void Depart(VehicleState& v, int stop, SysTime t, Sink& sink);
  void Activate(VehicleState& v, SysTime t, Sink& sink);
  void RescheduleWindow(VehicleState& v);
  void DetachRun(VehicleState& v, SysTime t, Sink& sink);
  void Loop();
  // Evaluates what is queued, one item at a time under the state lock, alarms_ first (also
  // those that arrive meanwhile).
  void Drain();
  // Evaluates one queued item (state_mu_ held): a record (held while its vehicle waits for its
  // run), a run change or an adopted state.
  void Evaluate(Item& item);
  // The vehicle an item belongs to.
  static const std::string& VehicleOf(const Item& item);
  // A batch that may go ahead of other vehicles' work: small and holding an alarm.
  static bool IsAlarmBatch(std::span<const CommittedRecord> batch);
  // None of the batch's vehicles has anything queued or being evaluated (queue_mu_ held).
  bool NothingWaitingLocked(std::span<const CommittedRecord> batch) const;
  // Evaluates an alarm batch now if the state lock is free and nothing of its vehicles waits;
  // false: queue it.
  bool EvaluateOnArrival(std::span<const CommittedRecord> batch);

  // DeadlineScheduler
  void Schedule(VehicleState& v, TimerTag tag, SysTime deadline) override;
  SysTime Now() const override { return clock_->Now(); }

  AlertManager* alerts_;
  const Clock* clock_;
  MonitorOptions options_;
  RunActivated on_run_activated_;
  SysTime restarted_at_ = SysTime::min();
  SnapshotSink snapshot_sink_;
  // Per vehicle index: when its next snapshot is due (monitor thread).
  std::vector<SysTime> snapshot_due_;

  // Queue (any thread -> monitor thread).
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Item> queue_;
  // Alarm batches that found the state lock held: evaluated before queue_ and before the rest
  // of what the monitor thread has taken off it (Drain). Only batches of vehicles with nothing
  // waiting go here, so no vehicle's records are reordered.
  std::vector<Item> alarms_;
  // Per vehicle: its items in queue_ or alarms_, or taken off them and not yet evaluated
  // (decremented under state_mu_ after the evaluation). No entry: nothing waits.
  std::unordered_map<std::string, uint32_t> waiting_;
  uint64_t enqueued_ = 0;
  uint64_t drained_ = 0;  // items evaluated, under queue_mu_
  uint64_t ticks_ = 0;
  bool stop_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
  // The thread runs (Start() .. Stop()): only then do alarms go ahead (on arrival or alarms_).
  std::atomic<bool> threaded_{false};
  std::atomic<uint64_t> evaluated_on_arrival_{0};
  std::atomic<uint64_t> queued_ahead_{0};

  // Evaluation state (monitor thread; state_mu_ held while evaluating, so Fleet() can read).
  mutable std::mutex state_mu_;
  std::vector<std::unique_ptr<VehicleState>> vehicles_;
  std::unordered_map<std::string, uint32_t> index_;
  std::unordered_map<std::string, std::vector<CommittedRecord>> held_;  // HoldVehicles
  // Resumed with reachable_since, until their rebuilt state is applied (state_mu_).
  std::unordered_map<std::string, SysTime> reachable_since_;
  std::atomic<std::size_t> held_count_{0};
  // Per vehicle index: another instance owns it (Release); nothing of it is evaluated here.
  std::vector<bool> released_;
  std::atomic<std::size_t> released_count_{0};
  std::atomic<uint64_t> records_of_released_{0};
  TimerWheel wheel_;
  std::atomic<uint64_t> records_processed_{0};
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MONITOR_MONITOR_H_
