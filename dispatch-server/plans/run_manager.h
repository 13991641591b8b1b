// The run registry (DESIGN §5): create / update / dispatch / abort / complete run plans,
// versioned and persisted, and the run state machine
//   planned -> dispatched -> active (left the depot) -> completed | aborted.
// A plan is validated and compiled (route imported, corridor built) before it is accepted. A
// dispatched plan is frozen: UpdateRun stores a new version, the old stays for audit. Every change
// is also appended, with its actor and comment, to the store's hash-chained plan log (History).
//
//   RunManager runs(&run_store, &clock);
//   CIT_RETURN_IF_ERROR(runs.Load());          // reads; runs.CompilePending(stop) compiles
//   runs.SetListener([&](const RunChange& c) { monitor.OnRunChanged(c); });
//   absl::StatusOr<cit::v1::Run> r = runs.Create(plan, "dispatcher:carol");
//   r = runs.Dispatch("2026-11-29-ZH-07", "dispatcher:carol");
//
// Start-up: Load() only reads the stored runs; their plans (route import and corridor, seconds
// for long routes) are compiled by CompilePending(), which the server runs on a background
// thread after its ports are open: live runs first, each published to the listener as soon as it
// is compiled (the monitor holds the vehicle's records until then: PendingLiveVehicles()). An
// operation on a run still waiting (Dispatch, Abort, Complete) compiles it first.
//
// Several instances on one database (issue 15 §3): the registry holds the runs as of one plan
// log position. Every change first applies the log entries this instance has not seen, is
// judged on that state, and is stored only on top of the newest entry (RunStore::SaveAt); when
// another instance appended in between, it is judged again (so a run planned, edited,
// dispatched or ended on one instance is known to the checks on the other). Get and History
// look a run unknown here up in the log; List shows what the follower has read. StartFollowing
// polls the log for the others' changes ([store] plan_follow_ms) and applies each once, in log
// order: new and edited plans are compiled on the follower thread, and dispatches, plan changes of
// live runs and ends reach the listener as if made here.
//
// Thread contract: thread-safe. The listener is called after the change is stored, under the
// registry's mutex (so it sees the changes in log order), on the calling or follower thread; it
// must not block or call back into the registry (the monitor only enqueues).
#ifndef CIT_DISPATCH_SERVER_PLANS_RUN_MANAGER_H_
#define CIT_DISPATCH_SERVER_PLANS_RUN_MANAGER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/plans/compiled_run.h"
#include "dispatch-server/plans/run_store.h"

namespace cit::dispatch {

// A run whose state or plan changed; `compiled` is the plan version now in force.
struct RunChange {
  cit::v1::Run run;
  std::shared_ptr<const CompiledRun> compiled;
};

// Dispatched or active: the monitor tracks the vehicle against it.
bool IsLive(cit::v1::RunState state);

class RunManager {
 public:
  using Listener = std::function<void(const RunChange&)>;

  // `store` may be null (memory only). Both must outlive this.
  RunManager(RunStore* store, const Clock* clock);
  ~RunManager();
  RunManager(const RunManager&) = delete;
  RunManager& operator=(const RunManager&) = delete;

  // Refuse plans with a stop that has no arrival_latest ([plans] require_stop_windows;
  // StopWindowProblems). Off by default: such a stop is accepted, and dispatchctl warns.
  void SetRequireStopWindows(bool on) { require_stop_windows_ = on; }

  // Reads the stored runs; compiles nothing (see CompilePending).
  absl::Status Load();
  void SetListener(Listener listener);

  // Vehicles whose live run is loaded but not compiled yet.
  std::vector<std::string> PendingLiveVehicles() const;
  // Compiles every loaded run still waiting (live runs first), publishing each live one; a plan
  // that no longer compiles is logged and published without a compiled plan (the monitor then
  // stops holding the vehicle's records). Returns early once `stop` is set. `threads` > 1
  // compiles that many plans at once (the calling thread is one of them): a corridor builds on
  // one core, and a restart with a thousand live runs waits for all of them.
  void CompilePending(const std::atomic<bool>& stop, int threads = 1);
  // Loaded runs whose plans are not compiled yet.
  std::size_t compiling() const;

  absl::StatusOr<cit::v1::Run> Create(const cit::v1::RunPlan& plan, const std::string& actor);
  // Changing the plan of a live (dispatched or active) run needs a non-blank comment
  // (INVALID_ARGUMENT otherwise); the monitor applies the new version from that moment.
  absl::StatusOr<cit::v1::Run> Update(const cit::v1::RunPlan& plan, const std::string& actor,
                                      const std::string& comment = "");
  absl::StatusOr<cit::v1::Run> Dispatch(const std::string& run_id, const std::string& actor);
  // Needs a non-blank comment (INVALID_ARGUMENT otherwise).
  absl::StatusOr<cit::v1::Run> Abort(const std::string& run_id, const std::string& comment,
                                     const std::string& actor);
  absl::StatusOr<cit::v1::Run> Complete(const std::string& run_id, const std::string& comment,
                                        const std::string& actor);
  // Dispatched -> active, reported by the monitor when the vehicle leaves the depot.
  absl::StatusOr<cit::v1::Run> MarkActive(const std::string& run_id, SysTime started);

  // Not const: a run unknown here is looked for in the plan log first (another instance may
  // have planned it since the follower last read).
  absl::StatusOr<cit::v1::Run> Get(const std::string& run_id);
  // The run's plan log (creator and every later change); empty without a store.
  absl::StatusOr<cit::v1::RunHistory> History(const std::string& run_id);
  std::vector<cit::v1::Run> List(const std::string& vehicle_id,
                                 const std::vector<cit::v1::RunState>& states) const;
  // One page of List, in run_id order, starting after `after_run_id` (empty: from the first):
  // at most `page_size` runs, as RunSummary unless `full`. A full page also ends before its runs
  // would pass `max_bytes` (it holds at least one run). `next_after` (the last run_id returned)
  // is empty on the last page.
  struct Page {
    std::vector<cit::v1::Run> runs;
    std::string next_after;
  };
  Page ListPage(const std::string& vehicle_id, const std::vector<cit::v1::RunState>& states,
                const std::string& after_run_id, std::size_t page_size, bool full,
                std::size_t max_bytes) const;
  // Every dispatched or active run with its compiled plan (monitor start-up).
  std::vector<RunChange> LiveRuns() const;

  struct FollowOptions {
    // How often the plan log is read for other instances' changes (a full batch reads again at
    // once).
    std::chrono::milliseconds interval{200};
    // Entries read per query.
    std::size_t batch = 200;
  };
  // Starts applying the changes other instances store (see the file comment); after Load and
  // SetMetrics, at most once. Read errors are logged and counted (cit_plan_follow_errors_total)
  // and retried with backoff; nothing is skipped.
  absl::Status StartFollowing(FollowOptions options);
  // Stops and joins the follower (before the listener's target goes); the destructor does too.
  void StopFollowing();
  // Applies every plan-log entry stored so far by other instances (compiling on the calling
  // thread); what the follower does on each tick.
  absl::Status CatchUp();
  // Counters cit_plan_events_followed_total and cit_plan_follow_errors_total.
  void SetMetrics(std::shared_ptr<MetricsRegistry> registry);
  // The plan-log position this registry's runs reflect.
  uint64_t log_position() const;

 private:
  struct Entry {
    cit::v1::Run run;
    std::shared_ptr<const CompiledRun> compiled;
  };
  absl::StatusOr<cit::v1::Run> EndLocked(const std::string& run_id, cit::v1::RunState state,
                                         const std::string& comment, const std::string& actor);
  // Calls the listener with a stored change; under mu_.
  void PublishLocked(const RunChange& change);
  // Stores one change on top of log_position_ and advances it; under mu_.
  absl::Status SaveLocked(const cit::v1::Run& run, const cit::v1::PlanEvent& change);
  // Runs `op` (which judges and stores one change) again after catching up while another
  // instance's append got in first.
  template <typename Op>
  auto RetryWhileLogMoves(Op op) -> decltype(op());
  // How long to wait after the `attempt`-th loss to another instance's append (random, growing).
  std::chrono::microseconds RetryWait(int attempt);
  // One read of the log after log_position_: applies the entries; returns how many it read.
  absl::StatusOr<std::size_t> FollowOnce(std::size_t batch);
  // FollowOnce until the log has no more; compiles nothing.
  absl::Status ReadUp();
  // Another instance's change: the run takes the entry's state; a new plan version waits in
  // followed_pending_ for compiling. Under mu_.
  void ApplyFollowedLocked(const cit::v1::PlanEvent& entry);
  // Compiles the plans FollowOnce left waiting (publishing live ones).
  void CompileFollowed();
  void FollowLoop(FollowOptions options);
  // Compiles `run_id` if it is still waiting from Load(); OK if it is compiled (or not waiting).
  absl::Status CompileIfPending(const std::string& run_id);

  RunStore* store_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> runs_;
  // Run ids loaded but not compiled at Load(), live ones first (compiled ones stay listed).
  std::vector<std::string> pending_;
  Listener listener_;
  std::atomic<bool> require_stop_windows_{false};
  // Index of the last plan-log entry reflected in runs_.
  uint64_t log_position_ = 0;
  // Runs whose plan another instance created or changed, compiled by the follower.
  std::vector<std::string> followed_pending_;

  // One log reader at a time (the follower, or an operation catching up).
  std::mutex read_mu_;
  std::mutex jitter_mu_;
  std::minstd_rand jitter_{std::random_device{}()};
  Counter* followed_total_ = nullptr;
  Counter* follow_errors_ = nullptr;
  std::shared_ptr<MetricsRegistry> metrics_;
  std::mutex follow_mu_;
  std::condition_variable follow_cv_;
  bool follow_stop_ = false;
  std::thread follower_;

  // OK, or INVALID_ARGUMENT listing the stops without a window when they are required.
  absl::Status CheckStopWindows(const cit::v1::RunPlan& plan) const;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_RUN_MANAGER_H_
