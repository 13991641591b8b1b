#include "dispatch-server/plans/run_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
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

RunManager::~RunManager() { StopFollowing(); }

void RunManager::StopFollowing() {
  {
    std::lock_guard<std::mutex> lock(follow_mu_);
    follow_stop_ = true;
  }
  follow_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
}

absl::Status RunManager::Load() {
  if (store_ == nullptr) return absl::OkStatus();
  absl::StatusOr<RunStore::Loaded> loaded = store_->LoadWithPosition();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(mu_);
  log_position_ = loaded->log_position;
  std::vector<std::string> planned;
  for (cit::v1::Run& run : loaded->runs) {
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
  auto at = std::find(pending_.begin(), pending_.end(), run_id);
  if (!c.ok()) {
    spdlog::error("event=stored_plan_invalid run_id={} error=\"{}\"", run_id,
                  std::string(c.status().message()));
    if (at == pending_.end()) return c.status();  // a concurrent call failed and reported it
    pending_.erase(at);
    // Published without a plan: the monitor stops holding the vehicle's records.
    if (IsLive(e.run.state())) PublishLocked(RunChange{e.run, nullptr});
    return absl::FailedPreconditionError(
        absl::StrCat("stored plan of run ", run_id, " no longer compiles: ", c.status().message()));
  }
  e.compiled = *c;
  // Off the list: followed plans keep arriving for as long as the server runs.
  if (at != pending_.end()) pending_.erase(at);
  // Under the mutex: an Update of this run publishes its new version strictly after this one.
  if (IsLive(e.run.state())) PublishLocked(RunChange{e.run, e.compiled});
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

void RunManager::PublishLocked(const RunChange& change) {
  if (listener_) listener_(change);
}

absl::Status RunManager::SaveLocked(const cit::v1::Run& run, const cit::v1::PlanEvent& change) {
  if (store_ == nullptr) return absl::OkStatus();
  absl::StatusOr<uint64_t> position = store_->SaveAt(run, change, log_position_);
  if (!position.ok()) return position.status();
  log_position_ = *position;
  return absl::OkStatus();
}

absl::Status RunManager::ReadUp() {
  if (store_ == nullptr) return absl::OkStatus();
  for (;;) {
    absl::StatusOr<std::size_t> read = FollowOnce(FollowOptions{}.batch);
    if (!read.ok()) return read.status();
    if (*read < FollowOptions{}.batch) return absl::OkStatus();
  }
}

template <typename Op>
auto RunManager::RetryWhileLogMoves(Op op) -> decltype(op()) {
  // Each attempt is judged on the state as of the log's head (read first: one indexed query,
  // nothing with one writer), and loses only to an append that committed in between;
  // operators' changes are rare, so a few attempts suffice, and the last refusal tells the
  // caller to retry. Two instances changing runs back to back lose to each other in step (the
  // read-up compiles the other's plans, long enough for its next append): a random wait after
  // each loss, growing, lets one of them through.
  constexpr int kAttempts = 20;
  for (int attempt = 1;; ++attempt) {
    if (absl::Status s = ReadUp(); !s.ok()) return s;
    auto result = op();
    if (result.ok() || !IsPlanLogMoved(result.status()) || attempt == kAttempts) return result;
    std::this_thread::sleep_for(RetryWait(attempt));
  }
}

std::chrono::microseconds RunManager::RetryWait(int attempt) {
  // Uniform in [0, min(2^attempt, 64) ms): at most ~0.8 s over all attempts.
  const int64_t cap_us = int64_t{1000} << std::min(attempt, 6);
  std::lock_guard<std::mutex> lock(jitter_mu_);
  return std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, cap_us - 1)(jitter_));
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
  return RetryWhileLogMoves([&]() -> absl::StatusOr<cit::v1::Run> {
    std::lock_guard<std::mutex> lock(mu_);
    if (runs_.count(plan.run_id()) != 0) {
      return absl::AlreadyExistsError(absl::StrCat("run_id: \"", plan.run_id(), "\" exists"));
    }
    if (absl::Status s =
            SaveLocked(run, Change(cit::v1::PLAN_ACTION_CREATE, actor, "", clock_->Now()));
        !s.ok()) {
      return s;
    }
    runs_[plan.run_id()] = Entry{run, *compiled};
    return run;
  });
}

absl::StatusOr<cit::v1::Run> RunManager::Update(const cit::v1::RunPlan& plan,
                                                const std::string& actor,
                                                const std::string& comment) {
  if (absl::Status s = CheckStopWindows(plan); !s.ok()) return s;
  return RetryWhileLogMoves([&]() -> absl::StatusOr<cit::v1::Run> {
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
    if (e.run.version() + 1 != run.version() || e.run.state() != run.state()) {
      return absl::AbortedError("run changed concurrently; retry");
    }
    if (absl::Status s =
            SaveLocked(run, Change(cit::v1::PLAN_ACTION_UPDATE, actor, comment, clock_->Now()));
        !s.ok()) {
      return s;
    }
    e = Entry{run, *compiled};
    // A planned run is not tracked yet: nothing to tell the monitor.
    if (IsLive(run.state())) PublishLocked(RunChange{run, *compiled});
    return run;
  });
}

absl::StatusOr<cit::v1::Run> RunManager::Dispatch(const std::string& run_id,
                                                  const std::string& actor) {
  return RetryWhileLogMoves([&]() -> absl::StatusOr<cit::v1::Run> {
    if (absl::Status s = CompileIfPending(run_id); !s.ok()) return s;
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
    if (absl::Status s =
            SaveLocked(run, Change(cit::v1::PLAN_ACTION_DISPATCH, actor, "", clock_->Now()));
        !s.ok()) {
      return s;
    }
    e.run = run;
    // The compiled plan keeps the version it was built from; state lives in `run`.
    PublishLocked(RunChange{run, e.compiled});
    return run;
  });
}

absl::StatusOr<cit::v1::Run> RunManager::EndLocked(const std::string& run_id,
                                                   cit::v1::RunState state,
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
  const cit::v1::PlanAction action = state == cit::v1::RUN_STATE_ABORTED
                                         ? cit::v1::PLAN_ACTION_ABORT
                                         : cit::v1::PLAN_ACTION_COMPLETE;
  if (absl::Status s = SaveLocked(run, Change(action, actor, comment, clock_->Now())); !s.ok()) {
    return s;
  }
  e.run = run;
  PublishLocked(RunChange{run, e.compiled});
  return run;
}

absl::StatusOr<cit::v1::Run> RunManager::Abort(const std::string& run_id,
                                               const std::string& comment,
                                               const std::string& actor) {
  if (Blank(comment)) {
    return absl::InvalidArgumentError(absl::StrCat("comment: required to abort run ", run_id,
                                                   " (say why; it is kept with your name)"));
  }
  return RetryWhileLogMoves([&]() -> absl::StatusOr<cit::v1::Run> {
    CompileIfPending(run_id).IgnoreError();  // an unusable stored plan can still be aborted
    std::lock_guard<std::mutex> lock(mu_);
    return EndLocked(run_id, cit::v1::RUN_STATE_ABORTED, comment, actor);
  });
}

absl::StatusOr<cit::v1::Run> RunManager::Complete(const std::string& run_id,
                                                  const std::string& comment,
                                                  const std::string& actor) {
  return RetryWhileLogMoves([&]() -> absl::StatusOr<cit::v1::Run> {
    CompileIfPending(run_id).IgnoreError();  // the stop progress is judged against the plan
    std::lock_guard<std::mutex> lock(mu_);
    return EndLocked(run_id, cit::v1::RUN_STATE_COMPLETED, comment, actor);
  });
}

absl::StatusOr<cit::v1::Run> RunManager::MarkActive(const std::string& run_id, SysTime started) {
  return RetryWhileLogMoves([&]() -> absl::StatusOr<cit::v1::Run> {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("run ", run_id));
    Entry& e = it->second;
    if (e.run.state() != cit::v1::RUN_STATE_DISPATCHED) return e.run;  // already active or ended
    cit::v1::Run run = e.run;
    run.set_state(cit::v1::RUN_STATE_ACTIVE);
    *run.mutable_started_time() = ToProto(started);
    if (absl::Status s = SaveLocked(
            run, Change(cit::v1::PLAN_ACTION_ACTIVATE, "system", "left the depot", clock_->Now()));
        !s.ok()) {
      return s;
    }
    e.run = run;
    return run;
  });
}

absl::Status RunManager::StartFollowing(FollowOptions options) {
  if (store_ == nullptr) return absl::FailedPreconditionError("no store to follow");
  if (follower_.joinable()) return absl::FailedPreconditionError("already following");
  options.batch = std::max<std::size_t>(1, options.batch);
  options.interval = std::max(options.interval, std::chrono::milliseconds(1));
  spdlog::info("event=plan_follow_started interval_ms={} position={}", options.interval.count(),
               log_position());
  follower_ = std::thread([this, options] { FollowLoop(options); });
  return absl::OkStatus();
}

void RunManager::FollowLoop(FollowOptions options) {
  constexpr std::chrono::milliseconds kMaxBackoff(5000);
  std::chrono::milliseconds backoff = options.interval;
  uint64_t failures = 0;
  std::unique_lock<std::mutex> lock(follow_mu_);
  while (!follow_stop_) {
    lock.unlock();
    absl::StatusOr<std::size_t> read = FollowOnce(options.batch);
    CompileFollowed();  // also what an operation's catch-up left waiting
    lock.lock();
    std::chrono::milliseconds wait = options.interval;
    if (read.ok()) {
      if (failures > 0) spdlog::info("event=plan_follow_recovered failures={}", failures);
      failures = 0;
      backoff = options.interval;
      if (*read == options.batch) wait = std::chrono::milliseconds(0);  // more may be waiting
    } else {
      // Nothing is skipped: the next read starts at the same position.
      ++failures;
      if (follow_errors_ != nullptr) follow_errors_->Increment();
      spdlog::error("event=plan_follow_failed failures={} retry_in_ms={} error=\"{}\"", failures,
                    backoff.count(), read.status().ToString());
      wait = backoff;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    follow_cv_.wait_for(lock, wait, [this] { return follow_stop_; });
  }
}

absl::Status RunManager::CatchUp() {
  if (absl::Status s = ReadUp(); !s.ok()) return s;
  CompileFollowed();
  return absl::OkStatus();
}

absl::StatusOr<std::size_t> RunManager::FollowOnce(std::size_t batch) {
  std::lock_guard<std::mutex> reading(read_mu_);
  uint64_t after = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    after = log_position_;
  }
  // Read without the mutex: operators and the monitor use the registry meanwhile.
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> entries = store_->EventsAfter(after, batch);
  if (!entries.ok()) return entries.status();
  uint64_t applied = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const cit::v1::PlanEvent& entry : *entries) {
      // Our own append since the read began: already applied when it was stored.
      if (entry.index() <= log_position_) continue;
      if (entry.index() != log_position_ + 1) {
        return absl::DataLossError(absl::StrCat("plan log: entry ", entry.index(), " read after ",
                                                log_position_,
                                                "; the positions between are missing"));
      }
      ApplyFollowedLocked(entry);
      log_position_ = entry.index();
      ++applied;
    }
  }
  if (applied > 0 && followed_total_ != nullptr) followed_total_->Increment(applied);
  return entries->size();
}

void RunManager::ApplyFollowedLocked(const cit::v1::PlanEvent& entry) {
  const cit::v1::Run& run = entry.run();
  const std::string& id = run.plan().run_id();
  spdlog::info("event=plan_followed position={} run_id={} version={} action={} actor=\"{}\"",
               entry.index(), id, run.version(), cit::v1::PlanAction_Name(entry.action()),
               entry.actor());
  auto [it, added] = runs_.try_emplace(id);
  Entry& e = it->second;
  const bool was_live = !added && IsLive(e.run.state());
  const bool new_plan = added || e.run.version() != run.version();
  e.run = run;
  auto pending = std::find(pending_.begin(), pending_.end(), id);
  if (IsEnded(run.state())) {
    if (pending != pending_.end()) pending_.erase(pending);
    if (was_live) PublishLocked(RunChange{e.run, e.compiled});  // the monitor lets it go
    return;
  }
  if (new_plan) {
    // Compiled by the follower (CompileFollowed), or by an operation that needs it first; a
    // live run reaches the listener once its plan is compiled, as at start-up.
    e.compiled = nullptr;
    if (pending == pending_.end()) pending_.push_back(id);
    followed_pending_.push_back(id);
    return;
  }
  if (IsLive(run.state()) && e.compiled) PublishLocked(RunChange{e.run, e.compiled});
}

void RunManager::CompileFollowed() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids.swap(followed_pending_);
  }
  for (const std::string& id : ids) CompileIfPending(id).IgnoreError();  // logged there
}

void RunManager::SetMetrics(std::shared_ptr<MetricsRegistry> registry) {
  metrics_ = std::move(registry);
  followed_total_ = &metrics_->GetCounter(
      "cit_plan_events_followed_total",
      "Plan-log entries stored by other instances on the same database and applied here");
  follow_errors_ = &metrics_->GetCounter(
      "cit_plan_follow_errors_total", "Failed reads of the plan log for other instances' changes");
}

uint64_t RunManager::log_position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_position_;
}

absl::StatusOr<cit::v1::RunHistory> RunManager::History(const std::string& run_id) {
  if (absl::StatusOr<cit::v1::Run> known = Get(run_id); !known.ok()) return known.status();
  cit::v1::RunHistory out;
  if (store_ == nullptr) return out;
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> events = store_->History(run_id);
  if (!events.ok()) return events.status();
  for (cit::v1::PlanEvent& e : *events) *out.add_events() = std::move(e);
  return out;
}

absl::StatusOr<cit::v1::Run> RunManager::Get(const std::string& run_id) {
  auto find = [&]() -> absl::StatusOr<cit::v1::Run> {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return absl::NotFoundError(absl::StrCat("run ", run_id));
    return it->second.run;
  };
  absl::StatusOr<cit::v1::Run> run = find();
  if (run.ok() || !absl::IsNotFound(run.status())) return run;
  // Planned on another instance a moment ago, before the follower read it: an operator who
  // names it here is not told it does not exist.
  if (absl::Status s = ReadUp(); !s.ok()) return s;
  return find();
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
