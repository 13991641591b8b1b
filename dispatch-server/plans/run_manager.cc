#include "dispatch-server/plans/run_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dispatch-server/plans/plan_validation.h"
#include "dispatch-server/plans/run_summary.h"
#include "dispatch-server/plans/stop_placement.h"

namespace cit::dispatch {

bool IsLive(cit::v1::RunState state) {
  return state == cit::v1::RUN_STATE_DISPATCHED || state == cit::v1::RUN_STATE_ACTIVE;
}

namespace {

bool IsEnded(cit::v1::RunState state) {
  return state == cit::v1::RUN_STATE_COMPLETED || state == cit::v1::RUN_STATE_ABORTED;
}

cit::v1::PlanEvent Change(cit::v1::PlanAction action, const std::string& actor,
                          const std::string& comment, SysTime now) {
  cit::v1::PlanEvent e;
  e.set_action(action);
  e.set_actor(actor);
  e.set_comment(comment);
  *e.mutable_time() = ToProto(now);
  return e;
}

bool Blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

absl::StatusOr<std::shared_ptr<const CompiledRun>> ValidateAndCompile(const cit::v1::Run& run) {
  if (absl::Status s = ValidateRunPlan(run.plan()); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<const CompiledRun>> compiled = CompileRun(run);
  if (!compiled.ok()) return compiled;
  if (std::vector<std::string> far = StopPlacementProblems(**compiled); !far.empty()) {
    return absl::InvalidArgumentError(JoinProblems(far));
  }
  return compiled;
}

}  // namespace

RunManager::RunManager(RunStore* store, const Clock* clock) : store_(store), clock_(clock) {}

absl::Status RunManager::Load() {
  if (store_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::vector<cit::v1::Run>> runs = store_->LoadLatest();
  if (!runs.ok()) return runs.status();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> planned;
  for (cit::v1::Run& run : *runs) {
    const std::string id = run.plan().run_id();
    if (IsLive(run.state())) pending_.push_back(id);
    if (run.state() == cit::v1::RUN_STATE_PLANNED) planned.push_back(id);
    runs_[id] = Entry{std::move(run), nullptr};
  }
  pending_.insert(pending_.end(), planned.begin(), planned.end());
  return absl::OkStatus();
}

std::vector<std::string> RunManager::PendingLiveVehicles() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const std::string& id : pending_) {
    const Entry& e = runs_.at(id);
    if (IsLive(e.run.state()) && !e.compiled) out.push_back(e.run.plan().vehicle_id());
  }
  return out;
}

std::size_t RunManager::compiling() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(pending_.begin(), pending_.end(),
                    [&](const std::string& id) { return !runs_.at(id).compiled; }));
}

absl::Status RunManager::CompileIfPending(const std::string& run_id) {
  cit::v1::Run run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end() || it->second.compiled ||
        std::find(pending_.begin(), pending_.end(), run_id) == pending_.end()) {
      return absl::OkStatus();
    }
    run = it->second.run;
  }
  // Outside the mutex: compiling a long route takes seconds.
  absl::StatusOr<std::shared_ptr<const CompiledRun>> c = CompileRun(run);
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = runs_[run_id];
  if (e.compiled || e.run.version() != run.version()) return absl::OkStatus();  // overtaken
  if (!c.ok()) {
    spdlog::error("event=stored_plan_invalid run_id={} error=\"{}\"", run_id,
                  std::string(c.status().message()));
    auto at = std::find(pending_.begin(), pending_.end(), run_id);
    if (at == pending_.end()) return c.status();  // a concurrent call failed and reported it
    pending_.erase(at);
    // Published without a plan: the monitor stops holding the vehicle's records.
    if (IsLive(e.run.state()) && listener_) listener_(RunChange{e.run, nullptr});
    return absl::FailedPreconditionError(
        absl::StrCat("stored plan of run ", run_id, " no longer compiles: ", c.status().message()));
  }
  e.compiled = *c;
  // Under the mutex: an Update of this run publishes its new version strictly after this one.
  if (IsLive(e.run.state()) && listener_) listener_(RunChange{e.run, e.compiled});
  return absl::OkStatus();
}

void RunManager::CompilePending(const std::atomic<bool>& stop, int threads) {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids = pending_;
  }
  if (ids.empty()) return;
  spdlog::info("event=plans_compiling count={} threads={}", ids.size(), threads);
  const auto start = std::chrono::steady_clock::now();
  // Each thread takes the next run in order (live runs first); CompileIfPending is safe to call
  // concurrently, and each plan is published as soon as it is compiled.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < ids.size() && !stop.load(); i = next++) {
      CompileIfPending(ids[i]).IgnoreError();  // logged there
    }
  };
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads && static_cast<size_t>(t) < ids.size(); ++t) {
    helpers.emplace_back(work);
  }
  work();
  for (std::thread& h : helpers) h.join();
  if (stop.load()) return;
  spdlog::info("event=plans_compiled count={} seconds={:.1f}", ids.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void RunManager::SetListener(Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

absl::StatusOr<cit::v1::Run> RunManager::Publish(absl::StatusOr<RunChange> change) {
  if (!change.ok()) return change.status();
  Listener listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener = listener_;
  }
  if (listener) listener(*change);
  return std::move(change->run);
}

absl::Status RunManager::CheckStopWindows(const cit::v1::RunPlan& plan) const {
  if (!require_stop_windows_) return absl::OkStatus();
  std::vector<std::string> missing = StopWindowProblems(plan);
  if (missing.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(JoinProblems(missing));
}

absl::StatusOr<cit::v1::Run> RunManager::Create(const cit::v1::RunPlan& plan,
                                                const std::string& actor) {
  if (absl::Status s = CheckStopWindows(plan); !s.ok()) return s;
  cit::v1::Run run;
  *run.mutable_plan() = plan;
  run.set_state(cit::v1::RUN_STATE_PLANNED);
  run.set_version(1);
  *run.mutable_created_time() = ToProto(clock_->Now());
  run.set_created_by(actor);
  absl::StatusOr<std::shared_ptr<const CompiledRun>> compiled = ValidateAndCompile(run);
  if (!compiled.ok()) return compiled.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (runs_.count(plan.run_id()) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("run_id: \"", plan.run_id(), "\" exists"));
  }
  if (store_ != nullptr) {
    if (absl::Status s =
            store_->Save(run, Change(cit::v1::PLAN_ACTION_CREATE, actor, "", clock_->Now()));
        !s.ok()) {
      return s;
    }
  }
  runs_[plan.run_id()] = Entry{run, *compiled};
  return run;
}

absl::StatusOr<cit::v1::Run> RunManager::Update(const cit::v1::RunPlan& plan,
                                                const std::string& actor,
                                                const std::string& comment) {
  if (absl::Status s = CheckStopWindows(plan); !s.ok()) return s;
  absl::StatusOr<RunChange> change = [&]() -> absl::StatusOr<RunChange> {
    cit::v1::Run run;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = runs_.find(plan.run_id());
      if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("run ", plan.run_id()));
      run = it->second.run;
    }
    if (IsEnded(run.state())) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", plan.run_id(), " has ended; plans of ended runs are frozen"));
    }
    if (plan.vehicle_id() != run.plan().vehicle_id() && IsLive(run.state())) {
      return absl::FailedPreconditionError(
          "vehicle_id: cannot change the vehicle of a dispatched run; abort it and create a new "
          "one");
    }
    if (IsLive(run.state()) && Blank(comment)) {
      return absl::InvalidArgumentError(
          absl::StrCat("comment: required to change the plan of ",
                       run.state() == cit::v1::RUN_STATE_ACTIVE ? "active" : "dispatched", " run ",
                       plan.run_id(), " (say why; it is kept with your name)"));
    }
    *run.mutable_plan() = plan;
    run.set_version(run.version() + 1);
    run.set_created_by(actor);
    *run.mutable_created_time() = ToProto(clock_->Now());
    absl::StatusOr<std::shared_ptr<const CompiledRun>> compiled = ValidateAndCompile(run);
    if (!compiled.ok()) return compiled.status();
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = runs_[plan.run_id()];
    if (e.run.version() + 1 != run.version()) {
      return absl::AbortedError("run changed concurrently; retry");
    }
    if (store_ != nullptr) {
      if (absl::Status s =
              store_->Save(run, Change(cit::v1::PLAN_ACTION_UPDATE, actor, comment, clock_->Now()));
          !s.ok()) {
        return s;
      }
    }
    e = Entry{run, *compiled};
    return RunChange{run, *compiled};
  }();
  if (change.ok() && !IsLive(change->run.state())) {
    // A planned run is not tracked yet: nothing to tell the monitor.
    return std::move(change->run);
  }
  return Publish(std::move(change));
}

absl::StatusOr<cit::v1::Run> RunManager::Dispatch(const std::string& run_id,
                                                  const std::string& actor) {
  if (absl::Status s = CompileIfPending(run_id); !s.ok()) return s;
  absl::StatusOr<RunChange> change = [&]() -> absl::StatusOr<RunChange> {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("run ", run_id));
    Entry& e = it->second;
    if (e.run.state() != cit::v1::RUN_STATE_PLANNED) {
      return absl::FailedPreconditionError(absl::StrCat("run ", run_id, " is ",
                                                        cit::v1::RunState_Name(e.run.state()),
                                                        "; only a planned run can be dispatched"));
    }
    for (const auto& [id, other] : runs_) {
      if (id != run_id && IsLive(other.run.state()) &&
          other.run.plan().vehicle_id() == e.run.plan().vehicle_id()) {
        return absl::FailedPreconditionError(
            absl::StrCat("vehicle ", e.run.plan().vehicle_id(), " already has live run ", id));
      }
    }
    cit::v1::Run run = e.run;
    run.set_state(cit::v1::RUN_STATE_DISPATCHED);
    *run.mutable_dispatched_time() = ToProto(clock_->Now());
    run.set_dispatched_by(actor);
    if (store_ != nullptr) {
      if (absl::Status s =
              store_->Save(run, Change(cit::v1::PLAN_ACTION_DISPATCH, actor, "", clock_->Now()));
          !s.ok()) {
        return s;
      }
    }
    e.run = run;
    // The compiled plan keeps the version it was built from; state lives in `run`.
    return RunChange{run, e.compiled};
  }();
  return Publish(std::move(change));
}

absl::StatusOr<RunChange> RunManager::EndLocked(const std::string& run_id, cit::v1::RunState state,
                                                const std::string& comment,
                                                const std::string& actor) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("run ", run_id));
  Entry& e = it->second;
  if (IsEnded(e.run.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " already ", cit::v1::RunState_Name(e.run.state())));
  }
  if (state == cit::v1::RUN_STATE_COMPLETED && !IsLive(e.run.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("run ", run_id, " was never dispatched; abort it instead"));
  }
  cit::v1::Run run = e.run;
  run.set_state(state);
  *run.mutable_ended_time() = ToProto(clock_->Now());
  run.set_ended_by(actor);
  run.set_end_comment(comment);
  if (store_ != nullptr) {
    const cit::v1::PlanAction action = state == cit::v1::RUN_STATE_ABORTED
                                           ? cit::v1::PLAN_ACTION_ABORT
                                           : cit::v1::PLAN_ACTION_COMPLETE;
    if (absl::Status s = store_->Save(run, Change(action, actor, comment, clock_->Now()));
        !s.ok()) {
      return s;
    }
  }
  e.run = run;
  return RunChange{run, e.compiled};
}

absl::StatusOr<cit::v1::Run> RunManager::Abort(const std::string& run_id,
                                               const std::string& comment,
                                               const std::string& actor) {
  if (Blank(comment)) {
    return absl::InvalidArgumentError(absl::StrCat("comment: required to abort run ", run_id,
                                                   " (say why; it is kept with your name)"));
  }
  CompileIfPending(run_id).IgnoreError();  // an unusable stored plan can still be aborted
  absl::StatusOr<RunChange> change;
  {
    std::lock_guard<std::mutex> lock(mu_);
    change = EndLocked(run_id, cit::v1::RUN_STATE_ABORTED, comment, actor);
  }
  return Publish(std::move(change));
}

absl::StatusOr<cit::v1::Run> RunManager::Complete(const std::string& run_id,
                                                  const std::string& comment,
                                                  const std::string& actor) {
  CompileIfPending(run_id).IgnoreError();  // the stop progress is judged against the plan
  absl::StatusOr<RunChange> change;
  {
    std::lock_guard<std::mutex> lock(mu_);
    change = EndLocked(run_id, cit::v1::RUN_STATE_COMPLETED, comment, actor);
  }
  return Publish(std::move(change));
}

absl::StatusOr<cit::v1::Run> RunManager::MarkActive(const std::string& run_id, SysTime started) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("run ", run_id));
  Entry& e = it->second;
  if (e.run.state() != cit::v1::RUN_STATE_DISPATCHED) return e.run;  // already active or ended
  cit::v1::Run run = e.run;
  run.set_state(cit::v1::RUN_STATE_ACTIVE);
  *run.mutable_started_time() = ToProto(started);
  if (store_ != nullptr) {
    if (absl::Status s = store_->Save(
            run, Change(cit::v1::PLAN_ACTION_ACTIVATE, "system", "left the depot", clock_->Now()));
        !s.ok()) {
      return s;
    }
  }
  e.run = run;
  return run;
}

absl::StatusOr<cit::v1::RunHistory> RunManager::History(const std::string& run_id) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (runs_.count(run_id) == 0) return absl::NotFoundError(absl::StrCat("run ", run_id));
  }
  cit::v1::RunHistory out;
  if (store_ == nullptr) return out;
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> events = store_->History(run_id);
  if (!events.ok()) return events.status();
  for (cit::v1::PlanEvent& e : *events) *out.add_events() = std::move(e);
  return out;
}

absl::StatusOr<cit::v1::Run> RunManager::Get(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("run ", run_id));
  return it->second.run;
}

std::vector<cit::v1::Run> RunManager::List(const std::string& vehicle_id,
                                           const std::vector<cit::v1::RunState>& states) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<cit::v1::Run> out;
  for (const auto& [id, e] : runs_) {
    if (!vehicle_id.empty() && e.run.plan().vehicle_id() != vehicle_id) continue;
    if (!states.empty() && std::find(states.begin(), states.end(), e.run.state()) == states.end()) {
      continue;
    }
    out.push_back(e.run);
  }
  return out;
}

RunManager::Page RunManager::ListPage(const std::string& vehicle_id,
                                      const std::vector<cit::v1::RunState>& states,
                                      const std::string& after_run_id, std::size_t page_size,
                                      bool full, std::size_t max_bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  Page page;
  std::size_t bytes = 0;
  for (auto it = runs_.upper_bound(after_run_id); it != runs_.end(); ++it) {
    const cit::v1::Run& run = it->second.run;
    if (!vehicle_id.empty() && run.plan().vehicle_id() != vehicle_id) continue;
    if (!states.empty() && std::find(states.begin(), states.end(), run.state()) == states.end()) {
      continue;
    }
    const std::size_t size = full ? run.ByteSizeLong() : 0;
    if (page.runs.size() == page_size || (!page.runs.empty() && bytes + size > max_bytes)) {
      page.next_after = page.runs.back().plan().run_id();  // another run matches: not the last page
      break;
    }
    bytes += size;
    page.runs.push_back(full ? run : RunSummary(run));
  }
  return page;
}

std::vector<RunChange> RunManager::LiveRuns() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RunChange> out;
  for (const auto& [id, e] : runs_) {
    // Runs still compiling are published by CompilePending when they are ready.
    if (IsLive(e.run.state()) && e.compiled) out.push_back(RunChange{e.run, e.compiled});
  }
  return out;
}

}  // namespace cit::dispatch
