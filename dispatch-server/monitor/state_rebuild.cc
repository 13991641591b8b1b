#include "dispatch-server/monitor/state_rebuild.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dispatch-server/monitor/state_snapshot.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {
namespace {

using SystemTime = std::chrono::system_clock::time_point;

SysTime FromSystem(SystemTime t) { return std::chrono::time_point_cast<Duration>(t); }

// Backlog older than this (event time) that reached the server after the dispatch is rare; a
// bounded read keeps start-up proportional to the run, not to the vehicle's whole history.
constexpr double kOldestEventBeforeDispatchS = 12 * 3600;

// A snapshot to start the rebuild from, or why there is none (VehicleRebuild::snapshot_*).
struct SnapshotStart {
  std::optional<DecodedSnapshot> snapshot;
  ChainPosition at;  // the record the snapshot ends with
  size_t plan = 0;   // index of the snapshot's plan version in the run's timeline
  std::string fallback;
  std::string detail;
};

SnapshotStart FindSnapshot(ReplaySource& source, const std::string& vehicle_id,
                           const std::vector<PlanInForce>& timeline, SystemTime records_before) {
  const RunChange& change = timeline.back().change;
  SnapshotStart out;
  auto refuse = [&](const char* reason, std::string detail) {
    out.snapshot.reset();
    out.fallback = reason;
    out.detail = std::move(detail);
    return std::move(out);
  };
  absl::StatusOr<std::optional<StoredSnapshot>> stored = source.Snapshot(vehicle_id);
  if (!stored.ok()) return refuse("unreadable", stored.status().ToString());
  if (!stored->has_value()) return refuse("none", "");
  const StoredSnapshot& s = **stored;
  if (s.run_id != change.run.plan().run_id()) return refuse("other_run", s.run_id);
  // Taken under an earlier version of a plan changed since: the later versions are applied in
  // the tail, at their time. A version the timeline does not know is stale.
  size_t plan = timeline.size();
  for (size_t k = 0; k < timeline.size(); ++k) {
    if (timeline[k].change.compiled->version == s.plan_version) plan = k;
  }
  if (plan == timeline.size()) {
    return refuse("other_plan_version", absl::StrCat("snapshot of version ", s.plan_version,
                                                     ", run at ", change.compiled->version));
  }
  out.plan = plan;
  absl::StatusOr<DecodedSnapshot> decoded = DecodeSnapshot(s.bytes);
  if (!decoded.ok()) return refuse("corrupt", decoded.status().ToString());
  const SnapshotHeader& h = decoded->header;
  // The columns said whether it is usable; the verified bytes must say the same.
  if (h.vehicle_id != vehicle_id || h.run_id != s.run_id || h.plan_version != s.plan_version ||
      h.last_seq != s.last_seq) {
    return refuse("mismatch", "columns differ from the snapshot's own header");
  }
  // Its last record must be stored (a snapshot can be written before the group commit of the
  // records it evaluated; if the process died in between, those records are resent later).
  absl::StatusOr<std::optional<ChainPosition>> at = source.Locate(vehicle_id, h.last_seq);
  if (!at.ok()) return refuse("unreadable", at.status().ToString());
  if (!at->has_value() || (*at)->server_received_time >= records_before) {
    return refuse("record_missing", absl::StrCat("seq ", h.last_seq, " not stored"));
  }
  out.at = **at;
  out.snapshot = std::move(*decoded);
  return out;
}

}  // namespace

std::vector<PlanInForce> EarlierPlans(const RunChange& change,
                                      const std::vector<cit::v1::Run>& versions) {
  const cit::v1::Run& current = change.run;
  const SysTime dispatched = current.has_dispatched_time() ? FromProto(current.dispatched_time())
                                                           : FromProto(current.created_time());
  if (FromProto(current.created_time()) <= dispatched) return {};
  // The version in force at the dispatch, then each later one before the current.
  const cit::v1::Run* at_dispatch = nullptr;
  std::vector<const cit::v1::Run*> later;
  for (const cit::v1::Run& v : versions) {
    if (v.version() >= current.version()) continue;
    if (FromProto(v.created_time()) <= dispatched) {
      if (at_dispatch == nullptr || v.version() > at_dispatch->version()) at_dispatch = &v;
    } else {
      later.push_back(&v);
    }
  }
  if (at_dispatch == nullptr) return {};
  std::sort(later.begin(), later.end(), [](const cit::v1::Run* a, const cit::v1::Run* b) {
    return a->version() < b->version();
  });
  later.insert(later.begin(), at_dispatch);
  std::vector<PlanInForce> out;
  for (const cit::v1::Run* v : later) {
    absl::StatusOr<std::shared_ptr<const CompiledRun>> compiled = CompileRun(*v);
    if (!compiled.ok()) {
      spdlog::warn(
          "event=state_rebuild_plan_version_skipped run={} version={} error=\"{}\": the run is "
          "replayed with its current version throughout",
          current.plan().run_id(), v->version(), compiled.status().ToString());
      return {};
    }
    const SysTime from = v == at_dispatch ? dispatched : FromProto(v->created_time());
    out.push_back(PlanInForce{from, RunChange{*v, *compiled}});
  }
  return out;
}

absl::StatusOr<VehicleRebuild> RebuildVehicle(ReplaySource& source, AlertStore& alert_store,
                                              AlertManager& alerts, const std::string& vehicle_id,
                                              const RunChange* change, SystemTime records_before,
                                              SysTime restarted, const StateRebuildOptions& options,
                                              const Monitor::RunActivated& on_activated,
                                              const std::vector<PlanInForce>& earlier) {
  if (change != nullptr && !change->compiled) {
    return absl::FailedPreconditionError("run plan not compiled");
  }
  // The plan versions in force, oldest first; the current one applies from its creation.
  std::vector<PlanInForce> timeline = earlier;
  if (change != nullptr) {
    timeline.push_back(PlanInForce{
        timeline.empty() ? SysTime::min() : FromProto(change->run.created_time()), *change});
  }
  // Without a run, everything before the restart is warm-up.
  const SysTime dispatched = change == nullptr ? restarted
                             : change->run.has_dispatched_time()
                                 ? FromProto(change->run.dispatched_time())
                                 : FromProto(change->run.created_time());

  VehicleRebuild out;
  const auto started = std::chrono::steady_clock::now();
  SnapshotStart start;
  if (change != nullptr) {
    if (options.use_snapshots) {
      start = FindSnapshot(source, vehicle_id, timeline, records_before);
    } else {
      start.fallback = "disabled";
    }
    out.from_snapshot = start.snapshot.has_value();
    out.snapshot_fallback = start.fallback;
    out.snapshot_detail = start.detail;
  }

  // What the run already raised: every stored event of its alerts (those a snapshot reflects
  // only tell the later ones apart).
  std::vector<uint64_t> alert_ids;
  if (change != nullptr) {
    AlertFilter filter;
    filter.run_id = change->run.plan().run_id();
    for (const cit::v1::Alert& a : alerts.List(filter)) {
      if (a.vehicle_id() == vehicle_id) alert_ids.push_back(a.alert_id());
    }
  }
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> events = alert_store.EventsOfAlerts(alert_ids);
  if (!events.ok()) return events.status();
  auto gate = std::make_shared<ReplayGate>(ReplayGate::FromStoredEvents(
      *events, start.snapshot ? start.snapshot->header.alerts_through : 0));

  // The records the old process received, in the order it received them (chain order).
  const SystemTime read_from = std::chrono::time_point_cast<SystemTime::duration>(
      dispatched - FromSeconds(std::max(options.warmup_s, kOldestEventBeforeDispatchS)));
  const SystemTime warmup_from = start.snapshot
                                     ? SystemTime::min()
                                     : std::chrono::time_point_cast<SystemTime::duration>(
                                           dispatched - FromSeconds(options.warmup_s));
  absl::StatusOr<std::optional<SystemTime>> last =
      source.LastReceivedBefore(vehicle_id, records_before);
  if (!last.ok()) return last.status();
  const SysTime tail_from =
      (last->has_value() ? FromSystem(**last) : dispatched) - FromSeconds(options.tail_s);

  FakeClock clock(start.snapshot ? start.snapshot->header.taken_at : FromSystem(warmup_from));
  Monitor replay(&alerts, &clock, options.monitor);
  bool activated = false;  // the replay saw the vehicle leave its depot
  replay.SetRunActivatedCallback([&](const std::string& run_id, SysTime t) {
    activated = true;
    if (on_activated) on_activated(run_id, t);
  });
  bool run_applied = false;
  size_t next_plan = 1;  // timeline index of the next version to apply
  if (start.snapshot) {
    // The state as the old process had it after the snapshot's record, against the same plan
    // version; its deadlines are armed again on adoption, as in the live monitor.
    std::unique_ptr<VehicleState> state = std::move(start.snapshot->state);
    const RunChange& in_force = timeline[start.plan].change;
    activated = state->run_state == cit::v1::RUN_STATE_ACTIVE;
    state->run = in_force.compiled;
    state->limits = in_force.compiled->limits;
    state->gate = gate;
    next_plan = start.plan + 1;
    replay.Adopt(std::move(state));
    replay.RunOnce();
    gate->EnterReplay(tail_from);
    run_applied = true;
  } else {
    auto fresh = std::make_unique<VehicleState>();
    fresh->vehicle_id = vehicle_id;
    fresh->gate = gate;
    replay.Adopt(std::move(fresh));
    replay.RunOnce();
    gate->EnterMute();
  }
  // The monitor thread checks deadlines every `tick` and after each batch it evaluates: a
  // deadline due before the record's arrival (less a tick) fired before it, one due later after.
  auto advance_to = [&](SysTime t) {
    if (clock.Now() < t - options.monitor.tick) {
      clock.Set(t - options.monitor.tick);
      replay.Tick();
    }
    clock.Set(std::max(clock.Now(), t));
  };
  auto apply_run = [&] {
    advance_to(dispatched);
    gate->EnterReplay(tail_from);
    // As it was published at dispatch: the replay finds the departure itself.
    RunChange at_dispatch = timeline.front().change;
    at_dispatch.run.set_state(cit::v1::RUN_STATE_DISPATCHED);
    at_dispatch.run.clear_started_time();
    replay.OnRunChanged(at_dispatch);
    replay.RunOnce();
    run_applied = true;
  };
  // A plan change of the live run, as the monitor received it when it was made: the stop
  // progress is kept by stop id (Monitor::ApplyRunChange), later records are judged by it.
  auto apply_versions_before = [&](SysTime t) {
    while (next_plan < timeline.size() && timeline[next_plan].from <= t) {
      advance_to(timeline[next_plan].from);
      RunChange c = timeline[next_plan].change;
      c.run.set_state(activated ? cit::v1::RUN_STATE_ACTIVE : cit::v1::RUN_STATE_DISPATCHED);
      replay.OnRunChanged(c);
      replay.RunOnce();
      ++next_plan;
    }
  };
  // One record behind the stream: records of one batch share their receive time and were
  // evaluated in one go, then a tick; the next record's time says whether the batch ended.
  CommittedRecord pending{vehicle_id, {}, {}, 0};
  bool has_pending = false;
  absl::Status parse_error;
  auto evaluate_pending = [&](std::optional<SystemTime> next_received) {
    const SysTime received = FromSystem(pending.server_received_time);
    if (!run_applied && change != nullptr && received >= dispatched) apply_run();
    if (run_applied) apply_versions_before(received);
    advance_to(received);
    replay.Process(pending);
    ++(run_applied ? out.run_records : out.warmup_records);
    if (!next_received || *next_received != pending.server_received_time) replay.Tick();
  };
  auto on_record = [&](const StoredForReplay& r) {
    if (!parse_error.ok()) return;
    if (r.server_received_time >= records_before || r.server_received_time < warmup_from) return;
    if (has_pending) evaluate_pending(r.server_received_time);
    if (!pending.record.ParseFromArray(r.body.data(), static_cast<int>(r.body.size()))) {
      parse_error = absl::DataLossError(
          absl::StrCat("stored body of ", vehicle_id, " chain index ", r.chain_index));
      has_pending = false;
      return;
    }
    pending.server_received_time = r.server_received_time;
    pending.chain_index = r.chain_index;
    has_pending = true;
  };
  absl::Status read = start.snapshot
                          ? source.ForEachAfter(vehicle_id, start.at.chain_index, on_record)
                          : source.ForEach(vehicle_id, read_from, on_record);
  if (!read.ok()) return read;
  if (!parse_error.ok()) return parse_error;
  if (has_pending) evaluate_pending(std::nullopt);
  if (!run_applied && change != nullptr) apply_run();
  // Versions made after the last stored record (all before the restart).
  if (change != nullptr) apply_versions_before(SysTime::max());
  out.state = replay.TakeVehicle(vehicle_id);
  if (out.state == nullptr) return absl::InternalError("replay lost the vehicle");
  out.gate = gate->counts();
  gate->EnterLive();
  if (change == nullptr) out.state->gate.reset();  // no run: nothing stored to match
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

StateRebuilder::StateRebuilder(StateRebuildOptions options, AlertStore* alert_store,
                               AlertManager* alerts, Monitor* monitor,
                               Monitor::RunActivated on_activated, SysTime restarted)
    : options_(std::move(options)),
      alert_store_(alert_store),
      alerts_(alerts),
      monitor_(monitor),
      on_activated_(std::move(on_activated)),
      records_before_(std::chrono::system_clock::now()),
      restarted_(restarted),
      started_(std::chrono::steady_clock::now()) {}

StateRebuilder::~StateRebuilder() { Stop(); }

void StateRebuilder::Expect(const std::vector<std::string>& vehicle_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : vehicle_ids) expected_.emplace(id, false);
}

size_t StateRebuilder::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return expected_.size();
}

void StateRebuilder::ExpectIdle(const std::vector<std::string>& vehicle_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : vehicle_ids) {
    if (stop_ || !expected_.emplace(id, true).second) continue;
    jobs_.push_back(Job{id, std::nullopt, std::nullopt});
  }
  StartWorkersLocked();
}

void StateRebuilder::StartWorkersLocked() {
  if (!workers_.empty() || jobs_.empty()) return;
  const int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { Work(); });
  cv_.notify_all();
}

void StateRebuilder::OnRunChanged(const RunChange& change) {
  const std::string& vehicle_id = change.run.plan().vehicle_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = expected_.find(vehicle_id);
    if (it != expected_.end()) {
      if (it->second) {
        deferred_[vehicle_id].push_back(change);  // behind the rebuild
        return;
      }
      if (IsLive(change.run.state()) && change.compiled && !stop_) {
        it->second = true;
        jobs_.push_back(Job{vehicle_id, change, std::nullopt});
        StartWorkersLocked();
        cv_.notify_one();
        return;
      }
      expected_.erase(it);  // not live any more, or its plan no longer compiles: as before
    }
  }
  monitor_->OnRunChanged(change);
}

void StateRebuilder::Retake(const std::string& vehicle_id, std::optional<RunChange> live,
                            SysTime now) {
  const Bound bound{std::chrono::system_clock::now(), now};
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return;
  if (expected_.count(vehicle_id) != 0) {
    retake_bound_[vehicle_id] = bound;  // the waiting or running rebuild reads up to here
    return;
  }
  // A run still compiling reaches OnRunChanged later, as any run change: judged then.
  if (live && (!IsLive(live->run.state()) || !live->compiled)) live.reset();
  expected_[vehicle_id] = true;
  jobs_.push_back(Job{vehicle_id, std::move(live), bound});
  StartWorkersLocked();
  cv_.notify_one();
}

void StateRebuilder::Work() {
  std::unique_ptr<ReplaySource> store;
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      if (auto it = retake_bound_.find(job.vehicle_id); it != retake_bound_.end()) {
        job.bound = it->second;  // taken over since it was queued
        retake_bound_.erase(it);
      }
    }
    const std::string& vehicle_id = job.vehicle_id;
    absl::StatusOr<VehicleRebuild> rebuilt = absl::UnavailableError("no store");
    if (store == nullptr) {
      absl::StatusOr<std::unique_ptr<ReplaySource>> opened =
          options_.open_source ? options_.open_source()
                               : absl::FailedPreconditionError("no replay source configured");
      if (opened.ok()) {
        store = std::move(*opened);
      } else {
        rebuilt = opened.status();
      }
    }
    if (store != nullptr && job.bound) {
      // What the previous owner raised until a moment ago must be known to match it.
      if (absl::Status s = alerts_->CatchUp(); !s.ok()) {
        spdlog::warn("event=takeover_alerts_not_caught_up vehicle={} error=\"{}\"", vehicle_id,
                     s.ToString());
      }
    }
    if (store != nullptr) {
      std::vector<PlanInForce> earlier;
      if (job.change && versions_) {
        absl::StatusOr<std::vector<cit::v1::Run>> versions =
            versions_(job.change->run.plan().run_id());
        if (versions.ok()) {
          earlier = EarlierPlans(*job.change, *versions);
        } else {
          spdlog::warn("event=state_rebuild_plan_versions_unreadable run={} error=\"{}\"",
                       job.change->run.plan().run_id(), versions.status().ToString());
        }
      }
      rebuilt = RebuildVehicle(
          *store, *alert_store_, *alerts_, vehicle_id, job.change ? &*job.change : nullptr,
          job.bound ? job.bound->records_before : records_before_,
          job.bound ? job.bound->restarted : restarted_, options_, on_activated_, earlier);
    }
    Finish(job, std::move(rebuilt));
  }
}

void StateRebuilder::Finish(const Job& job, absl::StatusOr<VehicleRebuild> rebuilt) {
  const std::string& vehicle_id = job.vehicle_id;
  const RunChange* change = job.change ? &*job.change : nullptr;
  std::vector<RunChange> deferred;
  std::lock_guard<std::mutex> lock(mu_);
  if (retake_bound_.count(vehicle_id) != 0 && !stop_) {
    // Taken over while it was being rebuilt: the records stored meanwhile were read by nobody
    // here. Rebuild again, up to the takeover (Work picks the bound up).
    jobs_.push_back(Job{vehicle_id, job.change, std::nullopt});
    cv_.notify_one();
    return;
  }
  const std::string run_id = change != nullptr ? change->run.plan().run_id() : "";
  if (rebuilt.ok()) {
    spdlog::log(change != nullptr ? spdlog::level::info : spdlog::level::debug,
                "event=state_rebuilt vehicle={} run={} cause={} from_snapshot={} warmup_records={} "
                "run_records={} alerts_matched={} alerts_raised={} not_raised={} "
                "stored_unmatched={}",
                vehicle_id, run_id, job.bound ? "takeover" : "restart", rebuilt->from_snapshot,
                rebuilt->warmup_records, rebuilt->run_records, rebuilt->gate.matched,
                rebuilt->gate.admitted, rebuilt->gate.diverged,
                rebuilt->state->gate ? rebuilt->state->gate->pending() : 0);
    if (change != nullptr) CountSnapshotUse(vehicle_id, *rebuilt);
    ++runs_done_;
    records_done_ += rebuilt->warmup_records + rebuilt->run_records;
    thread_s_ += rebuilt->seconds;
    const bool active = rebuilt->state->run_state == cit::v1::RUN_STATE_ACTIVE;
    monitor_->Adopt(std::move(rebuilt->state));
    if (change != nullptr) {
      // The published change itself (the run's stored state and version), after the state. A
      // departure the replay found may not be stored yet (RunActivationWriter): keep it active.
      RunChange published = *change;
      if (active) published.run.set_state(cit::v1::RUN_STATE_ACTIVE);
      monitor_->OnRunChanged(published);
    }
  } else {
    // Judged from a blank state, as before rebuilds existed: better than not at all.
    spdlog::error("event=state_rebuild_failed vehicle={} run={} error=\"{}\"", vehicle_id, run_id,
                  rebuilt.status().ToString());
    auto blank = std::make_unique<VehicleState>();
    blank->vehicle_id = vehicle_id;
    monitor_->Adopt(std::move(blank));  // releases the held records
    if (change != nullptr) monitor_->OnRunChanged(*change);
  }
  if (auto it = deferred_.find(vehicle_id); it != deferred_.end()) {
    deferred = std::move(it->second);
    deferred_.erase(it);
  }
  for (const RunChange& c : deferred) monitor_->OnRunChanged(c);
  expected_.erase(vehicle_id);
  if (expected_.empty()) {
    spdlog::info(
        "event=state_rebuild_done runs={} from_snapshot={} records={} seconds={:.2f} "
        "thread_seconds={:.2f} threads={}",
        runs_done_, from_snapshot_, records_done_,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(),
        thread_s_, workers_.size());
  }
}

void StateRebuilder::SetVersionSource(VersionSource versions) {
  std::lock_guard<std::mutex> lock(mu_);
  versions_ = std::move(versions);
}

void StateRebuilder::SetMetrics(std::shared_ptr<MetricsRegistry> registry) {
  std::lock_guard<std::mutex> lock(mu_);
  metrics_ = std::move(registry);
}

uint64_t StateRebuilder::from_snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return from_snapshot_;
}

uint64_t StateRebuilder::full_replays() const {
  std::lock_guard<std::mutex> lock(mu_);
  return full_replays_;
}

std::map<std::string, uint64_t> StateRebuilder::fallbacks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fallbacks_;
}

void StateRebuilder::CountSnapshotUse(const std::string& vehicle_id,
                                      const VehicleRebuild& rebuilt) {
  if (rebuilt.from_snapshot) {
    ++from_snapshot_;
    if (metrics_) {
      metrics_
          ->GetCounter("cit_state_rebuild_snapshots_used_total",
                       "Live runs rebuilt at start-up from a monitor snapshot plus the records "
                       "after it")
          .Increment();
    }
    return;
  }
  ++full_replays_;
  ++fallbacks_[rebuilt.snapshot_fallback];
  if (metrics_) {
    metrics_
        ->GetCounter("cit_state_rebuild_snapshot_fallbacks_total",
                     "Live runs rebuilt at start-up by replaying the whole run, by why no "
                     "snapshot was used",
                     {{"reason", rebuilt.snapshot_fallback}})
        .Increment();
  }
  // A snapshot that exists but cannot be used is worth a warning: it may be corrupt.
  const bool expected = rebuilt.snapshot_fallback == "none" ||
                        rebuilt.snapshot_fallback == "disabled" ||
                        rebuilt.snapshot_fallback == "other_run";
  spdlog::log(expected ? spdlog::level::debug : spdlog::level::warn,
              "event=state_snapshot_not_used vehicle={} reason={} detail=\"{}\"", vehicle_id,
              rebuilt.snapshot_fallback, rebuilt.snapshot_detail);
}

void StateRebuilder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace cit::dispatch
