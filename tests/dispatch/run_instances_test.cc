// Runs on several dispatch-server instances sharing one PostgreSQL database (issue 15 §3): two
// PostgresRunStores (each with its own connection) and their RunManagers on one fresh database
// of the test's own PostgreSQL stand for two instances; each follows the plan log.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/plans/run_manager.h"
#include "dispatch-server/store/postgres_run_store.h"
#include "tests/dispatch/monitor_harness.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch::test {
namespace {

using cit::test::WaitFor;

// One instance: its store connection, its registry following the log, and what its listener
// (the monitor's feed) received.
struct Instance {
  explicit Instance(const std::string& conninfo) : clock(kT0) {
    auto opened = PostgresRunStore::Open(conninfo);
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (!opened.ok()) return;
    store = std::move(*opened);
    runs = std::make_unique<RunManager>(store.get(), &clock);
    EXPECT_TRUE(runs->Load().ok());
    runs->SetMetrics(metrics);
    runs->SetListener([this](const RunChange& c) {
      std::lock_guard<std::mutex> lock(mu);
      published.push_back(c);
    });
  }
  void Follow() {
    ASSERT_TRUE(runs->StartFollowing({.interval = std::chrono::milliseconds(10)}).ok());
  }
  std::vector<RunChange> Published() {
    std::lock_guard<std::mutex> lock(mu);
    return published;
  }
  // The run's state as this instance lists it (no look-up in the log: what List shows).
  cit::v1::RunState Listed(const std::string& run_id) {
    for (const cit::v1::Run& r : runs->List("", {})) {
      if (r.plan().run_id() == run_id) return r.state();
    }
    return cit::v1::RUN_STATE_UNSPECIFIED;
  }
  uint64_t Followed() const {
    return metrics->GetCounter("cit_plan_events_followed_total", "").value();
  }

  FakeClock clock;
  std::shared_ptr<MetricsRegistry> metrics = std::make_shared<MetricsRegistry>();
  std::unique_ptr<RunStore> store;
  std::unique_ptr<RunManager> runs;
  std::mutex mu;
  std::vector<RunChange> published;
};

// A plan made on A is listed on B, dispatched there and aborted there; A shows each change, and
// both instances' listeners (their monitors) get each change once, in order.
TEST(RunInstancesTest, APlanMadeOnAIsListedDispatchedAndAbortedOnB) {
  BackendDb db("postgresql");
  Instance a(db.conninfo());
  Instance b(db.conninfo());
  ASSERT_TRUE(a.runs && b.runs);
  a.Follow();
  b.Follow();
  MonitorHarness h;
  ASSERT_TRUE(a.runs->Create(h.Plan("R-1"), "dispatcher:carol").ok());
  ASSERT_TRUE(WaitFor([&] { return b.Listed("R-1") == cit::v1::RUN_STATE_PLANNED; }));

  absl::StatusOr<cit::v1::Run> dispatched = b.runs->Dispatch("R-1", "dispatcher:dave");
  ASSERT_TRUE(dispatched.ok()) << dispatched.status();
  ASSERT_TRUE(WaitFor([&] { return a.Listed("R-1") == cit::v1::RUN_STATE_DISPATCHED; }));
  // A's monitor tracks the run B dispatched, with its compiled plan.
  ASSERT_TRUE(WaitFor([&] { return a.Published().size() == 1; }));
  EXPECT_EQ(a.Published()[0].run.state(), cit::v1::RUN_STATE_DISPATCHED);
  ASSERT_NE(a.Published()[0].compiled, nullptr);
  EXPECT_EQ(a.Published()[0].run.dispatched_by(), "dispatcher:dave");

  absl::StatusOr<cit::v1::Run> aborted =
      b.runs->Abort("R-1", "truck broke down", "dispatcher:dave");
  ASSERT_TRUE(aborted.ok()) << aborted.status();
  ASSERT_TRUE(WaitFor([&] { return a.Listed("R-1") == cit::v1::RUN_STATE_ABORTED; }));
  ASSERT_TRUE(WaitFor([&] { return a.Published().size() == 2; }));
  EXPECT_EQ(a.Published()[1].run.state(), cit::v1::RUN_STATE_ABORTED);
  EXPECT_EQ(b.Published().size(), 2u) << "B's own dispatch and abort, each once";

  // One log, the same on both: create (A), dispatch and abort (B).
  for (Instance* i : {&a, &b}) {
    absl::StatusOr<cit::v1::RunHistory> history = i->runs->History("R-1");
    ASSERT_TRUE(history.ok()) << history.status();
    ASSERT_EQ(history->events_size(), 3);
    EXPECT_EQ(history->events(0).actor(), "dispatcher:carol");
    EXPECT_EQ(history->events(2).action(), cit::v1::PLAN_ACTION_ABORT);
    EXPECT_EQ(i->runs->Get("R-1")->end_comment(), "truck broke down");
  }
  EXPECT_EQ(a.Followed(), 2u) << "B's dispatch and abort";
  EXPECT_EQ(b.Followed(), 1u) << "A's create";
}

// Without waiting for its follower, B acts on a run A planned a moment ago: the run is looked up
// in the log, not refused as unknown; and B's change is judged on the current state.
TEST(RunInstancesTest, AnActionOnBSeesWhatAStoredBeforeTheFollowerRead) {
  BackendDb db("postgresql");
  Instance a(db.conninfo());
  Instance b(db.conninfo());  // not following: only its own actions read the log
  ASSERT_TRUE(a.runs && b.runs);
  MonitorHarness h;
  ASSERT_TRUE(a.runs->Create(h.Plan("R-1"), "carol").ok());
  ASSERT_TRUE(a.runs->Create(h.Plan("R-2"), "carol").ok());
  ASSERT_TRUE(a.runs->Dispatch("R-1", "carol").ok());

  EXPECT_TRUE(b.runs->Get("R-2").ok()) << "found in the log";
  // R-1 of the same truck is live (dispatched on A): B refuses a second live run for it.
  absl::StatusOr<cit::v1::Run> second = b.runs->Dispatch("R-2", "dave");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find("already has live run R-1"), std::string::npos)
      << second.status();
  // A run id taken on A is taken on B.
  EXPECT_EQ(b.runs->Create(h.Plan("R-1"), "dave").status().code(),
            absl::StatusCode::kAlreadyExists);
  // B ends R-1 on top of A's dispatch; A, acting next, sees it ended.
  ASSERT_TRUE(b.runs->Complete("R-1", "done", "dave").ok());
  ASSERT_TRUE(a.runs->Dispatch("R-2", "carol").ok()) << "R-1 is no longer live";
  EXPECT_EQ(a.runs->Get("R-1")->state(), cit::v1::RUN_STATE_COMPLETED);
}

// Both instances dispatch a different run of the same truck at the same moment: each append is
// judged on the state as of the log's head, so exactly one truck run goes live.
TEST(RunInstancesTest, TwoInstancesDispatchingOneTruckAtOnceMakeOneLiveRun) {
  BackendDb db("postgresql");
  Instance a(db.conninfo());
  Instance b(db.conninfo());
  ASSERT_TRUE(a.runs && b.runs);
  MonitorHarness h;
  ASSERT_TRUE(a.runs->Create(h.Plan("R-A"), "carol").ok());
  ASSERT_TRUE(b.runs->Create(h.Plan("R-B"), "dave").ok());
  std::atomic<int> ok{0};
  std::thread ta([&] { ok += a.runs->Dispatch("R-A", "carol").ok(); });
  std::thread tb([&] { ok += b.runs->Dispatch("R-B", "dave").ok(); });
  ta.join();
  tb.join();
  EXPECT_EQ(ok.load(), 1);
  ASSERT_TRUE(a.runs->CatchUp().ok());
  ASSERT_TRUE(b.runs->CatchUp().ok());
  int live = 0;
  for (const cit::v1::Run& r : a.runs->List("", {})) live += IsLive(r.state());
  EXPECT_EQ(live, 1);
  EXPECT_EQ(a.runs->log_position(), 3u);
  EXPECT_EQ(b.runs->log_position(), 3u);
}

// A live run's plan edited on A is evaluated with the new version by B's monitor: the stop B's
// fleet view heads for is the new plan's.
TEST(RunInstancesTest, APlanEditedOnAIsEvaluatedWithTheNewVersionOnB) {
  BackendDb db("postgresql");
  Instance a(db.conninfo());
  Instance b(db.conninfo());
  ASSERT_TRUE(a.runs && b.runs);
  AlertManager alerts(nullptr, &b.clock);
  ASSERT_TRUE(alerts.Load().ok());
  Monitor monitor(&alerts, &b.clock, MonitorOptions{});
  b.runs->SetListener([&](const RunChange& c) { monitor.OnRunChanged(c); });
  b.Follow();
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan("R-1");
  MonitorHarness::AddStop(plan, "bank-old", 3'000);
  ASSERT_TRUE(a.runs->Create(plan, "carol").ok());
  ASSERT_TRUE(a.runs->Dispatch("R-1", "carol").ok());
  auto next_stop_on_b = [&] {
    monitor.RunOnce();
    const cit::v1::Fleet fleet = monitor.Fleet();
    for (const cit::v1::VehicleState& v : fleet.vehicles()) {
      if (v.run_id() == "R-1") return v.next_stop_id();
    }
    return std::string();
  };
  ASSERT_TRUE(WaitFor([&] { return next_stop_on_b() == "bank-old"; }));

  plan.clear_stops();
  MonitorHarness::AddStop(plan, "bank-new", 6'000);
  absl::StatusOr<cit::v1::Run> v2 = a.runs->Update(plan, "carol", "bank moved the pickup");
  ASSERT_TRUE(v2.ok()) << v2.status();
  ASSERT_EQ(v2->version(), 2u);
  ASSERT_TRUE(WaitFor([&] { return next_stop_on_b() == "bank-new"; }));
  EXPECT_EQ(b.runs->Get("R-1")->version(), 2u);
  EXPECT_EQ(b.runs->Get("R-1")->state(), cit::v1::RUN_STATE_DISPATCHED);
}

// A restarted instance loads the runs as of one log position and follows on from there; the
// SQLite registry (one writer) keeps working without following.
TEST(RunInstancesTest, LoadStartsFollowingAtTheLogPositionOfTheRunsItRead) {
  BackendDb db("postgresql");
  Instance a(db.conninfo());
  ASSERT_TRUE(a.runs);
  MonitorHarness h;
  ASSERT_TRUE(a.runs->Create(h.Plan("R-1"), "carol").ok());
  ASSERT_TRUE(a.runs->Dispatch("R-1", "carol").ok());
  Instance b(db.conninfo());
  ASSERT_TRUE(b.runs);
  EXPECT_EQ(b.runs->log_position(), 2u);
  b.Follow();
  ASSERT_TRUE(a.runs->Abort("R-1", "cancelled", "carol").ok());
  ASSERT_TRUE(WaitFor([&] { return b.Listed("R-1") == cit::v1::RUN_STATE_ABORTED; }));
  EXPECT_EQ(b.Followed(), 1u) << "only the abort: the rest was loaded";
}

}  // namespace
}  // namespace cit::dispatch::test
