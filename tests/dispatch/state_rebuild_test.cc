// Monitor state rebuilt from the store after a restart (issue 12 §1): one scripted run (crew
// check-ins at the depot before the dispatch, a stop with a door opening and a dwell, a seal
// broken en route, a deviation with a door opened off route, a stop reached after its window,
// a GNSS outage at a stop) played through RunMonitoring on a SQLite database, once without
// interruption and once with restarts at chosen points. Every piece of rebuilt state is compared
// with the state of the process that stopped, and the alerts (kind, subject, event time,
// severity, occurrences, cleared, revision) with the uninterrupted run's.
//
// The restarts are clean (the old process's alert events are all stored); kill -9 of the real
// binary is tested in tests/dispatch/restart_equivalence_test.cc.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "dispatch-server/monitor/state_snapshot.h"
#include "dispatch-server/server/run_monitoring.h"
#include "dispatch-server/store/sqlite_snapshot_store.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/dispatch/monitor_harness.h"
#include "tests/dispatch/scripted_run.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using test::At;
using test::BackendDb;
using test::BackendName;
namespace scripted = test::scripted;
using scripted::At_s;
using scripted::ExpectSameState;
using scripted::kBase;
using scripted::kRun;
using scripted::kVehicle;
using Step = scripted::ScriptStep;

constexpr scripted::ScriptShape kShape{.crew_and_dispatch = true};
cit::v1::RunPlan Plan() { return scripted::Plan(kShape); }
std::vector<Step> Script() { return scripted::Script(kShape); }
size_t StepAt(double t_s) { return scripted::StepAt(Script(), t_s); }

// One dispatch-server process: RunMonitoring on the database (either backend), records appended
// to the store and handed to the monitor as the ingest does. The monitor runs synchronously
// (RunOnce).
class Process {
 public:
  // `snapshot_interval_s` 0: no snapshots are written (every restart replays whole runs).
  Process(const BackendDb& db, FakeClock* clock, double snapshot_interval_s = 0,
          bool use_snapshots = true)
      : clock_(clock) {
    RunMonitoringOptions o;
    o.database_path = db.path();
    if (db.pg()) o.postgres_connection = db.conninfo();
    o.alert_durability = sqlite::Durability::kNormal;
    o.monitor.snapshot_interval_s = snapshot_interval_s;
    o.rebuild.use_snapshots = use_snapshots;
    auto rm = RunMonitoring::Open(o, clock);
    EXPECT_TRUE(rm.ok()) << rm.status();
    rm_ = std::move(*rm);
    auto store = db.OpenRecordStore();
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    // Start() without its monitor thread: plans compile, states are rebuilt, then adopted here.
    std::atomic<bool> stop{false};
    rm_->runs().CompilePending(stop);
    EXPECT_TRUE(cit::test::WaitFor([&] { return rm_->rebuilding() == 0; }));
    rm_->monitor().RunOnce();
  }
  ~Process() {
    EXPECT_TRUE(rm_->alerts().WaitStored().ok());
    rm_->Stop();
  }

  void Run(const Step& step) {
    // As the monitor thread does: a tick shortly before the step, then the step and a tick.
    const SysTime t = At_s(step.t_s);
    if (clock_->Now() < t - MonitorOptions{}.tick) {
      clock_->Set(t - MonitorOptions{}.tick);
      rm_->monitor().RunOnce();
    }
    clock_->Set(std::max(clock_->Now(), t));
    if (step.dispatch) {
      ASSERT_TRUE(rm_->runs().Create(Plan(), "tester").ok());
      ASSERT_TRUE(rm_->runs().Dispatch(kRun, "tester").ok());
    }
    if (step.record) {
      const CommittedRecord cr = scripted::Committed(step, ++seq_);
      rm_->monitor().OnAccepted(std::span<const CommittedRecord>(&cr, 1));
      AppendBatch batch;
      batch.records.push_back(cr);
      ASSERT_TRUE(store_->Append(batch).ok());
    }
    rm_->monitor().RunOnce();
  }
  void SetSeq(uint64_t seq) { seq_ = seq; }
  uint64_t seq() const { return seq_; }
  RunMonitoring& rm() { return *rm_; }
  // The vehicle's monitor state (moved out and adopted again: timers re-armed).
  std::unique_ptr<VehicleState> CopyState() {
    std::unique_ptr<VehicleState> s = rm_->monitor().TakeVehicle(kVehicle);
    if (s == nullptr) return nullptr;
    auto copy = std::make_unique<VehicleState>(*s);
    rm_->monitor().Adopt(std::move(s));
    rm_->monitor().RunOnce();
    return copy;
  }

 private:
  FakeClock* clock_;
  std::unique_ptr<RunMonitoring> rm_;
  std::unique_ptr<Store> store_;
  uint64_t seq_ = 0;
};

using AlertKey = std::tuple<int, std::string, int64_t, int, uint32_t, bool, uint32_t>;
std::set<AlertKey> AlertSet(const std::vector<cit::v1::Alert>& alerts) {
  std::set<AlertKey> out;
  for (const cit::v1::Alert& a : alerts) {
    out.emplace(a.kind(), a.subject(), FromProto(a.event_time()).time_since_epoch().count(),
                a.severity(), a.occurrences(), a.has_condition_cleared_time(), a.revision());
  }
  return out;
}
std::string Describe(const std::set<AlertKey>& alerts) {
  std::string out;
  for (const auto& [kind, subject, t, severity, occ, cleared, rev] : alerts) {
    out += cit::v1::AlertKind_Name(static_cast<cit::v1::AlertKind>(kind)) + " [" + subject +
           "] t=" + std::to_string(Seconds(SysTime(Duration(t)) - kBase)) +
           " sev=" + std::to_string(severity) + " occ=" + std::to_string(occ) +
           " cleared=" + std::to_string(cleared) + " rev=" + std::to_string(rev) + "\n";
  }
  return out;
}

// Every case runs on both backends ("sqlite", "postgresql": runs, alerts, snapshots and the
// records the rebuild reads all in that backend).
class StateRebuildTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Plays the script; before each step in `restarts` the process stops (its state is kept in
  // before_[step]) and a new one starts (its rebuilt state in after_[step]); `down_s` moves the
  // clock while it is down. `on_restart` runs with the new process.
  std::vector<cit::v1::Alert> Play(const std::set<size_t>& restarts, double down_s = 0,
                                   const std::function<void(Process&)>& on_restart = {}) {
    BackendDb db(GetParam());
    FakeClock clock(kBase);
    auto p = std::make_unique<Process>(db, &clock, snapshot_interval_s_);
    const std::vector<Step> script = Script();
    for (size_t i = 0; i < script.size(); ++i) {
      if (restarts.count(i) != 0) {
        before_[i] = p->CopyState();
        const uint64_t seq = p->seq();
        p.reset();
        clock.Advance(FromSeconds(down_s));
        p = std::make_unique<Process>(db, &clock, snapshot_interval_s_);
        p->SetSeq(seq);
        from_snapshot_ += p->rm().rebuilder().from_snapshot();
        after_[i] = p->CopyState();
        if (on_restart) on_restart(*p);
      }
      if (before_step_) before_step_(*p, i);
      p->Run(script[i]);
    }
    // Past every deadline of the run.
    clock.Set(At_s(4000));
    p->rm().monitor().RunOnce();
    return p->rm().alerts().List(AlertFilter{});
  }

  // Expects the rebuilt state of the restart before `step` to equal the stopped process's.
  void ExpectRebuilt(size_t step) {
    ASSERT_TRUE(before_.count(step) && after_.count(step)) << step;
    ASSERT_NE(before_[step], nullptr);
    ASSERT_NE(after_[step], nullptr) << "nothing rebuilt";
    SCOPED_TRACE("restart before t=" + std::to_string(Script()[step].t_s));
    ExpectSameState(*before_[step], *after_[step]);
  }

  std::map<size_t, std::unique_ptr<VehicleState>> before_;
  std::map<size_t, std::unique_ptr<VehicleState>> after_;
  // Play(): the live monitor's snapshot interval (0 = none), and how many restarts started from
  // a snapshot.
  double snapshot_interval_s_ = 0;
  uint64_t from_snapshot_ = 0;
  // Play(): called with the process before each step (after a restart at that step).
  std::function<void(Process&, size_t)> before_step_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StateRebuildTest, ::testing::Values("sqlite", "postgresql"),
                         BackendName);

TEST_P(StateRebuildTest, UninterruptedRunRaisesTheScriptedAlerts) {
  const auto alerts = AlertSet(Play({}));
  std::set<int> kinds;
  for (const auto& a : alerts) kinds.insert(std::get<0>(a));
  for (cit::v1::AlertKind k :
       {cit::v1::ALERT_KIND_ROUTE_DEVIATION, cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP,
        cit::v1::ALERT_KIND_SEAL_BROKEN, cit::v1::ALERT_KIND_LATE_ARRIVAL,
        cit::v1::ALERT_KIND_GNSS_LOST, cit::v1::ALERT_KIND_DWELL_EXCEEDED}) {
    EXPECT_EQ(kinds.count(k), 1u) << cit::v1::AlertKind_Name(k) << "\n" << Describe(alerts);
  }
  EXPECT_EQ(kinds.count(cit::v1::ALERT_KIND_CREW_INCOMPLETE), 0u) << Describe(alerts);
}

// The restarts: after the crew checked in and the truck left, and at S1 before the door
// opened. Before the rebuild: CREW_INCOMPLETE [S1] "door 1 opened at S1 with 0 crew", and S1 and
// the depot judged pending again.
TEST_P(StateRebuildTest, RestartAfterDepartureKeepsCrewAndStopsAndRaisesNothingNew) {
  const auto reference = AlertSet(Play({}));
  const size_t after_departure = StepAt(100);
  const size_t at_s1 = StepAt(390);
  const auto restarted = AlertSet(Play({after_departure, at_s1}));
  EXPECT_EQ(restarted, reference) << "reference:\n"
                                  << Describe(reference) << "restarted:\n"
                                  << Describe(restarted);
  ExpectRebuilt(after_departure);
  ExpectRebuilt(at_s1);
  EXPECT_EQ(after_[after_departure]->crew.on_board, (std::vector<std::string>{"B-1", "B-2"}));
  EXPECT_EQ(after_[after_departure]->run_state, cit::v1::RUN_STATE_ACTIVE);
  EXPECT_EQ(after_[at_s1]->stops[0].status, StopStatus::kDeparted);
  EXPECT_EQ(after_[at_s1]->stops[1].status, StopStatus::kArrived);
  EXPECT_EQ(after_[at_s1]->current_stop, 1);
}

// The crew checked in before the run was dispatched: the warm-up before the dispatch has them.
TEST_P(StateRebuildTest, RestartBeforeDepartureKeepsCrewCheckedInBeforeTheDispatch) {
  const auto reference = AlertSet(Play({}));
  const size_t dispatched = StepAt(40);
  const auto restarted = AlertSet(Play({dispatched}));
  EXPECT_EQ(restarted, reference) << Describe(restarted);
  ExpectRebuilt(dispatched);
  EXPECT_EQ(after_[dispatched]->crew.on_board.size(), 2u);
  EXPECT_EQ(after_[dispatched]->run_state, cit::v1::RUN_STATE_DISPATCHED);
}

// A restart before the dispatch (no live run yet): the vehicle's state without a run is rebuilt
// too, so the run dispatched afterwards finds the crew on board.
TEST_P(StateRebuildTest, RestartBeforeTheDispatchKeepsTheCrewForTheRunDispatchedAfter) {
  const auto reference = AlertSet(Play({}));
  const size_t before_dispatch = StepAt(25);
  const size_t dispatched = StepAt(40);
  const auto restarted = AlertSet(Play({before_dispatch, dispatched}));
  EXPECT_EQ(restarted, reference) << Describe(restarted);
  ExpectRebuilt(dispatched);
  EXPECT_EQ(after_[dispatched]->crew.on_board.size(), 2u);
  EXPECT_EQ(after_[dispatched]->run_state, cit::v1::RUN_STATE_DISPATCHED);
}

TEST_P(StateRebuildTest, RestartWithADoorOpenAtAStopKeepsDoorAndStopInProgress) {
  const auto reference = AlertSet(Play({}));
  const size_t door_open = StepAt(415);
  const auto restarted = AlertSet(Play({door_open}));
  EXPECT_EQ(restarted, reference) << Describe(restarted);
  ExpectRebuilt(door_open);
  EXPECT_EQ(after_[door_open]->doors_open, 1u);
  EXPECT_EQ(after_[door_open]->stops[1].door_openings, 1u);
  EXPECT_EQ(after_[door_open]->stops[1].status, StopStatus::kArrived);
}

TEST_P(StateRebuildTest, RestartDuringADeviationKeepsItOpenAndClearsItOnce) {
  const auto reference = AlertSet(Play({}));
  const size_t deviating = StepAt(605);
  const auto restarted = AlertSet(Play({deviating}));
  EXPECT_EQ(restarted, reference) << Describe(restarted);
  ExpectRebuilt(deviating);
  EXPECT_TRUE(after_[deviating]->deviation.active);
  EXPECT_EQ(after_[deviating]->doors_open, 2u);  // door 2, opened off route
  EXPECT_EQ(after_[deviating]->seals_broken, 1u);
}

TEST_P(StateRebuildTest, RestartDuringAGnssOutageAtAStopKeepsLossDwellAndLateness) {
  const auto reference = AlertSet(Play({}));
  const size_t gnss_lost = StepAt(820);
  const size_t gnss_alerted = StepAt(835);
  const auto restarted = AlertSet(Play({gnss_lost, gnss_alerted}));
  EXPECT_EQ(restarted, reference) << Describe(restarted);
  ExpectRebuilt(gnss_lost);
  ExpectRebuilt(gnss_alerted);
  EXPECT_TRUE(after_[gnss_lost]->gnss_lost.lost);
  EXPECT_FALSE(after_[gnss_lost]->gnss_lost.active);
  EXPECT_TRUE(after_[gnss_alerted]->gnss_lost.active);
  EXPECT_TRUE(after_[gnss_alerted]->stops[2].late);
  EXPECT_FALSE(after_[gnss_alerted]->motion.moving);
}

TEST_P(StateRebuildTest, RestartsAtEveryHundredSecondsGiveTheUninterruptedAlerts) {
  const auto reference = AlertSet(Play({}));
  std::set<size_t> restarts;
  for (double t = 50; t < 1260; t += 100) restarts.insert(StepAt(t));
  const auto restarted = AlertSet(Play(restarts));
  EXPECT_EQ(restarted, reference) << "reference:\n"
                                  << Describe(reference) << "restarted:\n"
                                  << Describe(restarted);
  for (size_t step : restarts) ExpectRebuilt(step);
}

// S2's window closes at t = 700 while the server is down (650 -> 750): LATE_ARRIVAL fires once
// on the first tick after the restart, with the window's end as its event time, marked.
TEST_P(StateRebuildTest, DeadlineThatFellDueWhileDownFiresOnceMarked) {
  const auto reference = AlertSet(Play({}));
  const size_t before_window_end = StepAt(650);
  std::vector<cit::v1::Alert> late_after_restart;
  const auto alerts = Play({before_window_end}, /*down_s=*/100, [&](Process& p) {
    for (const auto& a : p.rm().alerts().List(AlertFilter{})) {
      if (a.kind() == cit::v1::ALERT_KIND_LATE_ARRIVAL) late_after_restart.push_back(a);
    }
  });
  ASSERT_EQ(late_after_restart.size(), 1u);
  EXPECT_EQ(late_after_restart[0].subject(), "S2");
  EXPECT_EQ(FromProto(late_after_restart[0].event_time()), At_s(700));
  EXPECT_NE(late_after_restart[0].details().find("fell due while the server was down"),
            std::string::npos)
      << late_after_restart[0].details();
  // Same alerts as without the restart (details aside).
  EXPECT_EQ(AlertSet(alerts), reference) << Describe(AlertSet(alerts));
}

// Committed but never evaluated (the process died between the commit and the rules): the
// rebuild raises what those records raise.
TEST_P(StateRebuildTest, RecordsStoredButNotEvaluatedBeforeTheStopRaiseTheirAlerts) {
  const auto reference = AlertSet(Play({}));
  BackendDb db(GetParam());
  FakeClock clock(kBase);
  const std::vector<Step> script = Script();
  const size_t door_off_route = StepAt(600.5);
  uint64_t seq = 0;
  {
    Process p(db, &clock);
    for (size_t i = 0; i < door_off_route; ++i) p.Run(script[i]);
    seq = p.seq();
  }
  {
    // The door record reaches the store only (a second store connection, no monitor).
    auto store = db.OpenRecordStore();
    ASSERT_TRUE(store.ok());
    CommittedRecord cr{kVehicle, *script[door_off_route].record,
                       std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                           At_s(script[door_off_route].t_s))};
    cr.record.set_seq(++seq);
    *cr.record.mutable_event_time() = ToProto(At_s(script[door_off_route].t_s));
    AppendBatch b;
    b.records.push_back(cr);
    ASSERT_TRUE((*store)->Append(b).ok());
  }
  clock.Set(At_s(script[door_off_route].t_s + 1));
  Process p(db, &clock);
  p.SetSeq(seq);
  size_t door_alerts = 0;
  for (const auto& a : p.rm().alerts().List(AlertFilter{})) {
    if (a.kind() == cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP) ++door_alerts;
  }
  EXPECT_EQ(door_alerts, 1u);
  for (size_t i = door_off_route + 1; i < script.size(); ++i) p.Run(script[i]);
  clock.Set(At_s(4000));
  p.rm().monitor().RunOnce();
  EXPECT_EQ(AlertSet(p.rm().alerts().List(AlertFilter{})), reference);
}

// ---- Snapshots: a restart starts from the last snapshot and re-evaluates only the tail -------

// The live monitor snapshots every 60 s of the script; every restart starts from a snapshot, and
// the rebuilt states and the alerts are those of the uninterrupted run, for restarts in a stop,
// with a door open, during a deviation and during a GNSS outage.
TEST_P(StateRebuildTest, RestartsFromSnapshotsGiveTheUninterruptedStateAndAlerts) {
  const auto reference = AlertSet(Play({}));
  snapshot_interval_s_ = 60;
  std::set<size_t> restarts;
  for (double t = 50; t < 1260; t += 100) restarts.insert(StepAt(t));
  for (double t : {390.0, 415.0, 605.0, 820.0, 835.0}) restarts.insert(StepAt(t));
  const auto restarted = AlertSet(Play(restarts));
  EXPECT_EQ(restarted, reference) << "reference:\n"
                                  << Describe(reference) << "restarted:\n"
                                  << Describe(restarted);
  for (size_t step : restarts) ExpectRebuilt(step);
  EXPECT_EQ(from_snapshot_, restarts.size());
}

// Plays the script up to (not including) `step` in one process that snapshots every 60 s, stops
// it and returns its vehicle state; `seq` gets the last record's seq.
std::unique_ptr<VehicleState> PlayUntil(const BackendDb& db, FakeClock& clock, size_t step,
                                        uint64_t* seq) {
  Process p(db, &clock, /*snapshot_interval_s=*/60);
  const std::vector<Step> script = Script();
  for (size_t i = 0; i < step; ++i) p.Run(script[i]);
  *seq = p.seq();
  return p.CopyState();
}

// Replaces `to` (empty) with a copy of `from` (no connection open to it).
void CopyDatabase(const BackendDb& from, const BackendDb& to) {
  if (from.pg()) {
    ASSERT_TRUE(from.server()->Exec("postgres", "DROP DATABASE " + to.database()).ok());
    // The stopped process's connections end a moment after it closed them.
    absl::Status copied;
    EXPECT_TRUE(cit::test::WaitFor([&] {
      copied = from.server()->Exec(
          "postgres", "CREATE DATABASE " + to.database() + " TEMPLATE " + from.database());
      return copied.ok();
    })) << copied;
    return;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::filesystem::path f = from.path().string() + suffix;
    if (std::filesystem::exists(f)) std::filesystem::copy_file(f, to.path().string() + suffix);
  }
}

// The same stopped database rebuilt twice, from the snapshot plus the tail and by replaying the
// whole run: the same state and, until the end of the run, the same alerts.
TEST_P(StateRebuildTest, SnapshotPlusTailEqualsTheFullReplay) {
  for (double t : {100.0, 415.0, 605.0, 835.0, 1230.0}) {
    SCOPED_TRACE("restart at t=" + std::to_string(t));
    BackendDb db_a(GetParam());
    BackendDb db_b(GetParam());
    FakeClock clock(kBase);
    const size_t step = StepAt(t);
    uint64_t seq = 0;
    ASSERT_NE(PlayUntil(db_a, clock, step, &seq), nullptr);
    CopyDatabase(db_a, db_b);
    FakeClock clock_b(clock.Now());
    Process a(db_a, &clock, 60, /*use_snapshots=*/true);
    Process b(db_b, &clock_b, 60, /*use_snapshots=*/false);
    EXPECT_EQ(a.rm().rebuilder().from_snapshot(), 1u);
    EXPECT_EQ(b.rm().rebuilder().from_snapshot(), 0u);
    EXPECT_EQ(b.rm().rebuilder().fallbacks().count("disabled"), 1u);
    std::unique_ptr<VehicleState> from_snapshot = a.CopyState();
    std::unique_ptr<VehicleState> replayed = b.CopyState();
    ASSERT_NE(from_snapshot, nullptr);
    ASSERT_NE(replayed, nullptr);
    ExpectSameState(*replayed, *from_snapshot);
    a.SetSeq(seq);
    b.SetSeq(seq);
    const std::vector<Step> script = Script();
    for (size_t i = step; i < script.size(); ++i) {
      a.Run(script[i]);
      clock_b.Set(clock.Now());
      b.Run(script[i]);
    }
    clock.Set(At_s(4000));
    clock_b.Set(At_s(4000));
    a.rm().monitor().RunOnce();
    b.rm().monitor().RunOnce();
    EXPECT_EQ(AlertSet(a.rm().alerts().List(AlertFilter{})),
              AlertSet(b.rm().alerts().List(AlertFilter{})));
  }
}

// A snapshot that is corrupt, stale (another plan version or run, its last record not stored)
// or missing is not used: the whole run is replayed, the reason is counted, and the state and
// alerts are still right.
TEST_P(StateRebuildTest, CorruptOrStaleSnapshotFallsBackToTheFullReplay) {
  const auto reference = AlertSet(Play({}));
  // Each case changes the stored snapshot (none: deletes it), through the backend's own store.
  struct Case {
    std::string reason;
    std::function<void(StoredSnapshot&)> spoil;
  };
  const std::vector<Case> cases = {
      {"corrupt",
       [](StoredSnapshot& s) {
         // One bit in the middle of the state flipped: the checksum no longer matches.
         s.bytes[s.bytes.size() / 2] = static_cast<char>(s.bytes[s.bytes.size() / 2] ^ 1);
       }},
      {"other_plan_version", [](StoredSnapshot& s) { s.plan_version = 99; }},
      {"other_run", [](StoredSnapshot& s) { s.run_id = "run-0"; }},
      {"mismatch", [](StoredSnapshot& s) { s.last_seq = 1; }},
      {"record_missing",
       [](StoredSnapshot& s) {
         // A well-formed snapshot (valid checksum) ending at a record that was never stored: as
         // after a crash between the snapshot and the group commit of its records.
         absl::StatusOr<DecodedSnapshot> d = DecodeSnapshot(s.bytes);
         ASSERT_TRUE(d.ok()) << d.status();
         d->header.last_seq = 1'000'000;
         s.last_seq = 1'000'000;
         s.bytes = EncodeSnapshot(d->header, *d->state);
       }},
      {"none", nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    BackendDb db(GetParam());
    FakeClock clock(kBase);
    const size_t step = StepAt(605);
    uint64_t seq = 0;
    std::unique_ptr<VehicleState> stopped = PlayUntil(db, clock, step, &seq);
    ASSERT_NE(stopped, nullptr);
    if (c.spoil) {
      auto snapshots = db.OpenSnapshotStore();
      ASSERT_TRUE(snapshots.ok()) << snapshots.status();
      absl::StatusOr<std::optional<StoredSnapshot>> stored = (*snapshots)->Get(kVehicle);
      ASSERT_TRUE(stored.ok() && stored->has_value());
      c.spoil(**stored);
      ASSERT_TRUE((*snapshots)->Put(std::span<const StoredSnapshot>(&**stored, 1)).ok());
    } else {
      ASSERT_TRUE(db.Exec("DELETE FROM monitor_snapshots").ok());
    }
    Process p(db, &clock, 60);
    EXPECT_EQ(p.rm().rebuilder().from_snapshot(), 0u);
    EXPECT_EQ(p.rm().rebuilder().fallbacks(), (std::map<std::string, uint64_t>{{c.reason, 1}}));
    std::unique_ptr<VehicleState> rebuilt = p.CopyState();
    ASSERT_NE(rebuilt, nullptr);
    ExpectSameState(*stopped, *rebuilt);
    p.SetSeq(seq);
    const std::vector<Step> script = Script();
    for (size_t i = step; i < script.size(); ++i) p.Run(script[i]);
    clock.Set(At_s(4000));
    p.rm().monitor().RunOnce();
    EXPECT_EQ(AlertSet(p.rm().alerts().List(AlertFilter{})), reference);
  }
}

// A plan changed while the run is live applies from that moment (issue 12 §5). S2's window
// closes at t = 700 (LATE_ARRIVAL from the clock); at t = 750 version 2 gives S2 until t = 2000.
// A restart after the change replays the records before it with version 1 and those after with
// version 2: the same state (S2 late, version 2) and alerts as without the restart. Replaying
// with version 2 throughout would find S2 never late.
TEST_P(StateRebuildTest, PlanChangedMidRunIsReplayedWithTheVersionInForceAtEachRecord) {
  const size_t change_at = StepAt(750);
  before_step_ = [&](Process& p, size_t i) {
    if (i != change_at) return;
    cit::v1::RunPlan v2 = Plan();
    *v2.mutable_stops(2)->mutable_arrival_latest() = ToProto(At_s(2000));
    absl::StatusOr<cit::v1::Run> updated =
        p.rm().runs().Update(v2, "tester", "traffic: more time for S2");
    ASSERT_TRUE(updated.ok()) << updated.status();
    EXPECT_EQ(updated->version(), 2u);
  };
  const auto reference = AlertSet(Play({}));
  bool s2_late = false;
  for (const auto& a : reference) {
    if (std::get<0>(a) == cit::v1::ALERT_KIND_LATE_ARRIVAL && std::get<1>(a) == "S2") {
      s2_late = true;
    }
  }
  ASSERT_TRUE(s2_late) << Describe(reference);
  const size_t after_change = StepAt(770);
  const auto restarted = AlertSet(Play({after_change}));
  EXPECT_EQ(restarted, reference) << "reference:\n"
                                  << Describe(reference) << "restarted:\n"
                                  << Describe(restarted);
  ExpectRebuilt(after_change);
  ASSERT_NE(after_[after_change], nullptr);
  EXPECT_EQ(after_[after_change]->run->version, 2u);
  EXPECT_TRUE(after_[after_change]->stops[2].late_alerted);

  // From a snapshot taken under version 1 (t = 731; snapshots every 100 s): version 2 is
  // applied in the tail, at t = 750.
  snapshot_interval_s_ = 100;
  from_snapshot_ = 0;
  const auto from_snapshot = AlertSet(Play({after_change}));
  EXPECT_EQ(from_snapshot, reference) << Describe(from_snapshot);
  ExpectRebuilt(after_change);
  EXPECT_EQ(from_snapshot_, 1u);
}

// The gate on its own: stored events are matched in order; a clear that changed nothing before
// stays a no-op; unmatched signals are dropped before the tail and admitted in it and live.
TEST(ReplayGateTest, MatchesStoredRaisesAndClearsInOrder) {
  std::vector<cit::v1::AlertEvent> events;
  auto event = [&](uint64_t alert_id, bool cleared, int actions) {
    cit::v1::AlertEvent e;
    e.set_event_id(events.size() + 1);
    e.mutable_alert()->set_alert_id(alert_id);
    e.mutable_alert()->set_kind(cit::v1::ALERT_KIND_ROUTE_DEVIATION);
    if (cleared) *e.mutable_alert()->mutable_condition_cleared_time() = ToProto(kBase);
    for (int i = 0; i < actions; ++i) e.mutable_alert()->add_actions();
    events.push_back(e);
  };
  event(1, false, 0);  // raised
  event(1, false, 1);  // acknowledged: not a signal
  event(1, true, 1);   // cleared
  event(1, false, 1);  // occurred again
  ReplayGate gate = ReplayGate::FromStoredEvents(events);
  EXPECT_EQ(gate.pending(), 3u);
  gate.EnterReplay(kBase + FromSeconds(100));
  AlertSignal s;
  s.kind = cit::v1::ALERT_KIND_ROUTE_DEVIATION;
  EXPECT_FALSE(gate.AdmitRaise(s, kBase));
  EXPECT_FALSE(gate.AdmitRaise(s, kBase));  // an escalation before the clear: nothing stored...
  // ... so it consumed the re-occurrence's stored raise; the stored clear was skipped.
  EXPECT_EQ(gate.pending(), 0u);
  EXPECT_FALSE(gate.AdmitClear(cit::v1::ALERT_KIND_ROUTE_DEVIATION, "", kBase));
  EXPECT_FALSE(gate.AdmitRaise(s, kBase));  // not stored, before the tail: divergence
  EXPECT_EQ(gate.counts().diverged, 1u);
  EXPECT_TRUE(gate.AdmitRaise(s, kBase + FromSeconds(100)));  // in the tail
  gate.EnterLive();
  EXPECT_TRUE(gate.AdmitRaise(s, kBase));
  EXPECT_TRUE(gate.AdmitClear(cit::v1::ALERT_KIND_ROUTE_DEVIATION, "", kBase));
  gate.EnterMute();
  EXPECT_FALSE(gate.AdmitRaise(s, kBase + FromSeconds(1000)));
}

TEST(ReplayGateTest, ClearWithNothingStoredBeforeItIsANoOpAndKeepsTheNextRaiseMatched) {
  std::vector<cit::v1::AlertEvent> events(1);
  events[0].set_event_id(1);
  events[0].mutable_alert()->set_alert_id(1);
  events[0].mutable_alert()->set_kind(cit::v1::ALERT_KIND_GNSS_LOST);
  ReplayGate gate = ReplayGate::FromStoredEvents(events);
  gate.EnterReplay(kBase);
  EXPECT_FALSE(gate.AdmitClear(cit::v1::ALERT_KIND_GNSS_LOST, "", kBase));
  EXPECT_EQ(gate.pending(), 1u);
  AlertSignal s;
  s.kind = cit::v1::ALERT_KIND_GNSS_LOST;
  EXPECT_FALSE(gate.AdmitRaise(s, kBase));
  EXPECT_EQ(gate.counts().matched, 1u);
}

}  // namespace
}  // namespace cit::dispatch
