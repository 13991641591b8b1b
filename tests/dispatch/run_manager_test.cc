#include "dispatch-server/plans/run_manager.h"

#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "dispatch-server/plans/run_activation_writer.h"
#include "dispatch-server/store/plan_version_chain.h"
#include "dispatch-server/store/record_hash.h"
#include "tests/dispatch/monitor_harness.h"
#include "tests/dispatch/store_backends.h"

// The RunStore contract on both backends (SqliteRunStore, PostgresRunStore): each case below
// runs on each, through the RunManager that uses it.
namespace cit::dispatch::test {
namespace {

class RunStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<RunStore> Open() {
    auto s = db_.OpenRunStore();
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  BackendDb db_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Backends, RunStoreTest, ::testing::Values("sqlite", "postgresql"),
                         BackendName);

TEST_P(RunStoreTest, StateMachineAndFrozenVersionsSurviveRestart) {
  FakeClock clock(kT0);
  MonitorHarness h;  // for Plan()
  cit::v1::RunPlan plan = h.Plan("R-1");
  MonitorHarness::AddStop(plan, "S1", 1000);
  {
    std::unique_ptr<RunStore> store = Open();
    ASSERT_NE(store, nullptr);
    RunManager runs(store.get(), &clock);
    ASSERT_TRUE(runs.Load().ok());
    std::vector<std::string> seen;
    runs.SetListener(
        [&](const RunChange& c) { seen.push_back(cit::v1::RunState_Name(c.run.state())); });
    auto created = runs.Create(plan, "carol");
    ASSERT_TRUE(created.ok()) << created.status();
    EXPECT_EQ(created->version(), 1u);
    EXPECT_EQ(runs.Create(plan, "carol").status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(runs.Complete("R-1", "", "carol").status().code(),
              absl::StatusCode::kFailedPrecondition);
    auto dispatched = runs.Dispatch("R-1", "carol");
    ASSERT_TRUE(dispatched.ok());
    EXPECT_EQ(dispatched->dispatched_by(), "carol");
    // A second live run for the same vehicle is refused.
    cit::v1::RunPlan other = h.Plan("R-2");
    ASSERT_TRUE(runs.Create(other, "carol").ok());
    EXPECT_EQ(runs.Dispatch("R-2", "carol").status().code(), absl::StatusCode::kFailedPrecondition);
    // Changing a dispatched plan makes version 2 (and needs a reason); the run stays dispatched.
    plan.mutable_stops(0)->set_radius_m(80);
    EXPECT_EQ(runs.Update(plan, "dave").status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(runs.Update(plan, "dave", "  ").status().code(), absl::StatusCode::kInvalidArgument);
    auto updated = runs.Update(plan, "dave", "S1 zone widened: new loading bay");
    ASSERT_TRUE(updated.ok()) << updated.status();
    EXPECT_EQ(updated->version(), 2u);
    EXPECT_EQ(updated->state(), cit::v1::RUN_STATE_DISPATCHED);
    auto done = runs.Complete("R-1", "all stops served", "erin");
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(runs.Update(plan, "dave", "late").status().code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(seen, (std::vector<std::string>{"RUN_STATE_DISPATCHED", "RUN_STATE_DISPATCHED",
                                              "RUN_STATE_COMPLETED"}));
    auto versions = store->Versions("R-1");
    ASSERT_TRUE(versions.ok());
    ASSERT_EQ(versions->size(), 2u);
    EXPECT_DOUBLE_EQ((*versions)[0].plan().stops(0).radius_m(), 40);
    EXPECT_EQ((*versions)[0].state(), cit::v1::RUN_STATE_DISPATCHED);
  }
  std::unique_ptr<RunStore> store = Open();
  ASSERT_NE(store, nullptr);
  RunManager runs(store.get(), &clock);
  ASSERT_TRUE(runs.Load().ok());
  auto r1 = runs.Get("R-1");
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->state(), cit::v1::RUN_STATE_COMPLETED);
  EXPECT_EQ(r1->ended_by(), "erin");
  EXPECT_EQ(r1->version(), 2u);
  EXPECT_EQ(runs.List("truck-7", {cit::v1::RUN_STATE_PLANNED}).size(), 1u);
}

TEST_P(RunStoreTest, EveryChangeIsInThePlanLogWithActorCommentAndWholeVersion) {
  FakeClock clock(kT0);
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan("R-1");
  MonitorHarness::AddStop(plan, "S1", 1000);
  {
    std::unique_ptr<RunStore> store = Open();
    ASSERT_NE(store, nullptr);
    RunManager runs(store.get(), &clock);
    ASSERT_TRUE(runs.Load().ok());
    ASSERT_TRUE(runs.Create(plan, "carol").ok());
    ASSERT_TRUE(runs.Dispatch("R-1", "carol").ok());
    plan.mutable_route()->set_corridor_half_width_m(250);
    ASSERT_TRUE(runs.Update(plan, "dave", "road closed, wider corridor").ok());
    ASSERT_TRUE(runs.MarkActive("R-1", kT0 + std::chrono::seconds(60)).ok());
    auto refused = runs.Abort("R-1", "", "dave");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("comment"), std::string::npos);
    ASSERT_TRUE(runs.Abort("R-1", "vehicle recalled", "erin").ok());
  }
  std::unique_ptr<RunStore> store = Open();
  ASSERT_NE(store, nullptr);
  RunManager runs(store.get(), &clock);
  ASSERT_TRUE(runs.Load().ok());
  auto history = runs.History("R-1");
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->events_size(), 5);
  const auto& e = history->events();
  EXPECT_EQ(e[0].action(), cit::v1::PLAN_ACTION_CREATE);
  EXPECT_EQ(e[0].actor(), "carol");
  EXPECT_EQ(e[1].action(), cit::v1::PLAN_ACTION_DISPATCH);
  EXPECT_EQ(e[2].action(), cit::v1::PLAN_ACTION_UPDATE);
  EXPECT_EQ(e[2].actor(), "dave");
  EXPECT_EQ(e[2].comment(), "road closed, wider corridor");
  EXPECT_EQ(e[2].run().version(), 2u);
  EXPECT_DOUBLE_EQ(e[2].run().plan().route().corridor_half_width_m(), 250);
  EXPECT_DOUBLE_EQ(e[1].run().plan().route().corridor_half_width_m(),
                   h.Plan("R-1").route().corridor_half_width_m());
  EXPECT_EQ(e[3].action(), cit::v1::PLAN_ACTION_ACTIVATE);
  EXPECT_EQ(e[4].action(), cit::v1::PLAN_ACTION_ABORT);
  EXPECT_EQ(e[4].actor(), "erin");
  EXPECT_EQ(e[4].comment(), "vehicle recalled");
  for (int i = 0; i < history->events_size(); ++i) EXPECT_EQ(e[i].index(), i + 1u);
}

TEST_P(RunStoreTest, ThePlanLogRefusesUpdateDeleteAndTruncate) {
  FakeClock clock(kT0);
  MonitorHarness h;
  std::unique_ptr<RunStore> store = Open();
  ASSERT_NE(store, nullptr);
  RunManager runs(store.get(), &clock);
  ASSERT_TRUE(runs.Load().ok());
  ASSERT_TRUE(runs.Create(h.Plan("R-1"), "carol").ok());
  std::vector<std::string> refused = {"UPDATE plan_events SET actor = 'mallory'",
                                      "DELETE FROM plan_events"};
  if (db_.pg()) refused.push_back("TRUNCATE plan_events");
  for (const std::string& sql : refused) {
    absl::Status s = db_.Exec(sql);
    EXPECT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.message().find("append-only"), std::string_view::npos) << s;
  }
  auto history = store->History("R-1");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].actor(), "carol");
}

// Both backends chain the same entries to the same hashes (plan_version_chain.h), so one
// verifier and one set of checkpoints serve either.
TEST(RunStoreBackendsTest, TheSameChangesGiveTheSameChainOnBothBackends) {
  MonitorHarness h;
  std::map<std::string, std::vector<std::string>> hashes;
  for (const char* backend : {"sqlite", "postgresql"}) {
    BackendDb db(backend);
    FakeClock clock(kT0);
    auto store = db.OpenRunStore();
    ASSERT_TRUE(store.ok()) << store.status();
    RunManager runs(store->get(), &clock);
    ASSERT_TRUE(runs.Load().ok());
    ASSERT_TRUE(runs.Create(h.Plan("R-1"), "carol").ok());
    ASSERT_TRUE(runs.Dispatch("R-1", "carol").ok());
    ASSERT_TRUE(runs.Abort("R-1", "recalled", "erin").ok());
    hashes[backend] = db.Column("SELECT hash FROM plan_events ORDER BY idx");
  }
  EXPECT_EQ(hashes["sqlite"].size(), 3u);
  EXPECT_EQ(hashes["sqlite"], hashes["postgresql"]);
}

// The server's login role (a member of citwatch_server, docs/operations.md) plans runs but
// cannot change the plan log, not even by switching its triggers off.
TEST(PostgresRunStoreTest, TheServerRoleSavesRunsButCannotChangeThePlanLog) {
  BackendDb db("postgresql");
  ASSERT_TRUE(db.OpenRunStore().ok()) << "the owner migrates";
  const std::string conninfo = db.ServerRoleConninfo();
  auto store = PostgresRunStore::Open(conninfo);
  ASSERT_TRUE(store.ok()) << store.status();
  FakeClock clock(kT0);
  MonitorHarness h;
  RunManager runs(store->get(), &clock);
  ASSERT_TRUE(runs.Load().ok());
  ASSERT_TRUE(runs.Create(h.Plan("R-1"), "carol").ok());
  ASSERT_TRUE(runs.Dispatch("R-1", "carol").ok()) << "runs rows are updated in place";
  BackendDb::ExpectRefusedAs(
      conninfo,
      {"UPDATE plan_events SET actor = 'mallory'", "DELETE FROM plan_events",
       "TRUNCATE plan_events", "ALTER TABLE plan_events DISABLE TRIGGER plan_events_append_only",
       "DELETE FROM runs"});
  EXPECT_EQ((*store)->History("R-1")->size(), 2u);
}

// Two instances on one database (issue 15 §3) plan runs at the same time: every plan-log append
// extends the one chain from the head read under the writer lock, so the rows recompute as one
// unbroken chain from h_0 (with heads kept in memory, each instance would fork it).
TEST(PostgresRunStoreTest, TwoInstancesPlanningAtOnceWriteOneChain) {
  BackendDb db("postgresql");
  auto a = PostgresRunStore::Open(db.conninfo());
  auto b = PostgresRunStore::Open(db.conninfo());
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  constexpr int kRunsEach = 30;
  MonitorHarness h;
  std::map<std::string, std::vector<cit::v1::RunPlan>> plans;  // built before the threads
  for (const std::string prefix : {"A-", "B-"}) {
    for (int i = 0; i < kRunsEach; ++i) plans[prefix].push_back(h.Plan(prefix + std::to_string(i)));
  }
  auto plan_runs = [&](RunStore* store, const std::string& prefix) {
    FakeClock clock(kT0);
    RunManager runs(store, &clock);
    ASSERT_TRUE(runs.Load().ok());
    for (const cit::v1::RunPlan& plan : plans.at(prefix)) {
      absl::StatusOr<cit::v1::Run> created = runs.Create(plan, "carol");
      ASSERT_TRUE(created.ok()) << plan.run_id() << ": " << created.status();
    }
  };
  std::thread ta(plan_runs, a->get(), std::string("A-"));
  std::thread tb(plan_runs, b->get(), std::string("B-"));
  ta.join();
  tb.join();

  pqxx::connection c(db.conninfo());
  pqxx::read_transaction t(c);
  pqxx::result rows = t.exec("SELECT idx, body, hash FROM plan_events ORDER BY idx");
  ASSERT_EQ(rows.size(), 2u * kRunsEach) << "one event per run, from both instances";
  PlanChainHead head{0, kChainGenesis};
  for (const auto& row : rows) {
    const uint64_t idx = row[0].as<uint64_t>();
    ASSERT_EQ(idx, head.length + 1) << "positions are gapless";
    cit::v1::PlanEvent stored;
    const std::string body = pqxx::binarystring(row[1]).str();
    ASSERT_TRUE(stored.ParseFromString(body)) << idx;
    absl::StatusOr<ChainedPlanEvent> again = ChainPlanEvent(head, stored);
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(again->body, body) << idx;
    ASSERT_EQ(again->hash, pqxx::binarystring(row[2]).str()) << "chain broken at " << idx;
    head = PlanChainHead{idx, again->hash};
  }
}

TEST(PostgresRunStoreTest, MigrationsAreVersionedAndANewerSchemaIsRefused) {
  BackendDb db("postgresql");
  ASSERT_TRUE(db.OpenRunStore().ok());
  ASSERT_TRUE(db.OpenRunStore().ok()) << "reopening applies nothing twice";
  ASSERT_TRUE(db.Exec("INSERT INTO schema_migrations (component, version, description) VALUES "
                      "('runs', 99, 'from the future')")
                  .ok());
  auto refused = db.OpenRunStore();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
}

TEST(RunManagerTest, InvalidPlanIsRefusedWithFieldAndProblem) {
  FakeClock clock(kT0);
  RunManager runs(nullptr, &clock);
  MonitorHarness h;
  cit::v1::RunPlan plan = h.Plan();
  MonitorHarness::AddStop(plan, "S1", 1000)->set_radius_m(-3);
  auto r = runs.Create(plan, "carol");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("stops[0].radius_m: must be > 0"), std::string::npos);
  plan.mutable_stops(0)->set_radius_m(30);
  plan.clear_stops();  // the polyline below is in California, far from the stop
  plan.mutable_route()->clear_points();
  plan.mutable_route()->set_encoded_polyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@");
  auto decoded = runs.Create(plan, "carol");
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  plan.set_run_id("run-2");
  plan.mutable_route()->set_encoded_polyline("");
  plan.mutable_route()->set_geojson("{\"type\": \"LineString\", \"coordinates\": [[8, 47]]}");
  auto bad = runs.Create(plan, "carol");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("route.geojson"), std::string::npos) << bad.status();
}

TEST_P(RunStoreTest, ActivationIsStoredOffTheCallersThreadAndKeptOnStop) {
  FakeClock clock(kT0);
  MonitorHarness h;  // for Plan()
  std::unique_ptr<RunStore> store = Open();
  ASSERT_NE(store, nullptr);
  RunManager runs(store.get(), &clock);
  ASSERT_TRUE(runs.Load().ok());
  for (const char* id : {"R-1", "R-2"}) {
    cit::v1::RunPlan plan = h.Plan(id);
    plan.set_vehicle_id(std::string("truck-") + id);
    ASSERT_TRUE(runs.Create(plan, "carol").ok());
    ASSERT_TRUE(runs.Dispatch(id, "carol").ok());
  }
  {
    RunActivationWriter writer(&runs);
    writer.Post("R-1", kT0 + std::chrono::seconds(5));
    writer.Post("R-2", kT0 + std::chrono::seconds(7));
    writer.Post("no-such-run", kT0);  // logged, not fatal
  }                                   // the destructor writes what is queued
  auto r1 = runs.Get("R-1");
  auto r2 = runs.Get("R-2");
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->state(), cit::v1::RUN_STATE_ACTIVE);
  EXPECT_EQ(FromProto(r1->started_time()), kT0 + std::chrono::seconds(5));
  EXPECT_EQ(r2->state(), cit::v1::RUN_STATE_ACTIVE);
}

}  // namespace
}  // namespace cit::dispatch::test
