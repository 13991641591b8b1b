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
// Thread contract: thread-safe. The listener is called after the change is stored, outside the
// registry's mutex, on the calling thread; it must not block (the monitor only enqueues). A
// compiled start-up plan is published under the mutex, so that a later Update's version always
// reaches the listener after it.
#ifndef CIT_DISPATCH_SERVER_PLANS_RUN_MANAGER_H_
#define CIT_DISPATCH_SERVER_PLANS_RUN_MANAGER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/common/clock.h"
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

  absl::StatusOr<cit::v1::Run> Get(const std::string& run_id) const;
  // The run's plan log (creator and every later change); empty without a store.
  absl::StatusOr<cit::v1::RunHistory> History(const std::string& run_id) const;
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

 private:
  struct Entry {
    cit::v1::Run run;
    std::shared_ptr<const CompiledRun> compiled;
  };
  absl::StatusOr<RunChange> EndLocked(const std::string& run_id, cit::v1::RunState state,
                                      const std::string& comment, const std::string& actor);
  absl::StatusOr<cit::v1::Run> Publish(absl::StatusOr<RunChange> change);
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

  // OK, or INVALID_ARGUMENT listing the stops without a window when they are required.
  absl::Status CheckStopWindows(const cit::v1::RunPlan& plan) const;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_RUN_MANAGER_H_
