// The period report's tables on both backends (SqlitePeriodTables, PostgresPeriodTables;
// Backends/PeriodTablesTest.<case>/sqlite and /postgresql): the same runs, alerts and summaries
// give the same rows on each, and on PostgreSQL the server's role keeps them up to date.
#include "dispatch-server/audit/period_report_tables.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "dispatch-server/audit/postgres_period_tables.h"
#include "dispatch-server/audit/sqlite_period_tables.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

using test::BackendDb;

constexpr int64_t kT0 = 1'796'000'000;  // start of the reported day, seconds
constexpr int64_t kDayS = 86400;

cit::v1::Run MakeRun(const std::string& id, const std::string& vehicle, cit::v1::RunState state,
                     int64_t start_s, uint32_t version = 1) {
  cit::v1::Run run;
  run.mutable_plan()->set_run_id(id);
  run.mutable_plan()->set_vehicle_id(vehicle);
  run.mutable_plan()->mutable_planned_start()->set_seconds(start_s);
  run.mutable_created_time()->set_seconds(kT0 - kDayS);
  run.set_version(version);
  run.set_state(state);
  return run;
}

cit::v1::PlanEvent Change() {
  cit::v1::PlanEvent e;
  e.set_actor("dora");
  e.mutable_time()->set_seconds(kT0);
  return e;
}

cit::v1::AlertEvent MakeAlert(uint64_t id, const std::string& vehicle, cit::v1::AlertKind kind,
                              cit::v1::Severity severity, int64_t event_s) {
  cit::v1::AlertEvent e;
  e.set_event_id(id);
  cit::v1::Alert* a = e.mutable_alert();
  a->set_alert_id(id);
  a->set_vehicle_id(vehicle);
  a->set_kind(kind);
  a->set_severity(severity);
  a->set_state(cit::v1::ALERT_STATE_OPEN);
  a->mutable_event_time()->set_seconds(event_s);
  a->mutable_detected_time()->set_seconds(event_s);
  return e;
}

PeriodRunSummary Summary(std::vector<StopSummary> stops, double off_route_m, uint64_t records) {
  PeriodRunSummary s;
  s.stops = std::move(stops);
  s.off_route_m = off_route_m;
  s.off_route_s = off_route_m / 10;
  s.records = records;
  s.fixes = records - 1;
  s.gaps = 1;
  s.gap_s = 75.5;
  s.delayed_records = 3;
  return s;
}

cit::v1::PeriodReportRequest Day(std::vector<std::string> vehicles = {}) {
  cit::v1::PeriodReportRequest req;
  req.mutable_from()->set_seconds(kT0);
  req.mutable_to()->set_seconds(kT0 + kDayS);
  for (std::string& v : vehicles) req.add_vehicle_ids(std::move(v));
  return req;
}

std::set<std::string> Ids(const std::vector<cit::v1::Run>& runs) {
  std::set<std::string> out;
  for (const cit::v1::Run& r : runs) out.insert(r.plan().run_id());
  return out;
}

class PeriodTablesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto runs = db_.OpenRunStore();
    ASSERT_TRUE(runs.ok()) << runs.status();
    runs_ = *std::move(runs);
    auto alerts = db_.OpenAlertStore();  // before the tables: they index `alerts`
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    alerts_ = *std::move(alerts);
    auto tables = OpenTables(db_.conninfo());
    ASSERT_TRUE(tables.ok()) << tables.status();
    tables_ = *std::move(tables);
  }

  absl::StatusOr<std::unique_ptr<PeriodReportTables>> OpenTables(const std::string& conninfo) {
    if (db_.pg()) {
      auto t = PostgresPeriodTables::Open(conninfo);
      if (!t.ok()) return t.status();
      return std::unique_ptr<PeriodReportTables>(*std::move(t));
    }
    auto t = SqlitePeriodTables::Open(db_.path());
    if (!t.ok()) return t.status();
    return std::unique_ptr<PeriodReportTables>(*std::move(t));
  }

  // Four runs: R-1 (CIT-1, completed) and R-2 (CIT-2, aborted) ended in the day, R-3 (CIT-1)
  // still active in it, R-4 (CIT-3, completed) the day before.
  void SaveRuns() {
    ASSERT_TRUE(
        runs_->Save(MakeRun("R-1", "CIT-1", cit::v1::RUN_STATE_DISPATCHED, kT0 + 3600), Change())
            .ok());
    for (const cit::v1::Run& r :
         {MakeRun("R-1", "CIT-1", cit::v1::RUN_STATE_COMPLETED, kT0 + 3600),
          MakeRun("R-2", "CIT-2", cit::v1::RUN_STATE_ABORTED, kT0 + 7200),
          MakeRun("R-3", "CIT-1", cit::v1::RUN_STATE_ACTIVE, kT0 + 100),
          MakeRun("R-4", "CIT-3", cit::v1::RUN_STATE_COMPLETED, kT0 - 3600)}) {
      ASSERT_TRUE(runs_->Save(r, Change()).ok()) << r.plan().run_id();
    }
  }

  // A deviation of CIT-1 nobody touched, a panic of CIT-2 that alice acknowledged 30 s and
  // resolved 90 s after it was detected, and an overspeed of CIT-3 the day before.
  void SaveAlerts() {
    std::vector<cit::v1::AlertEvent> events = {
        MakeAlert(1, "CIT-1", cit::v1::ALERT_KIND_ROUTE_DEVIATION, cit::v1::SEVERITY_HIGH,
                  kT0 + 4000),
        MakeAlert(2, "CIT-2", cit::v1::ALERT_KIND_PANIC, cit::v1::SEVERITY_CRITICAL, kT0 + 7300),
        MakeAlert(3, "CIT-3", cit::v1::ALERT_KIND_OVERSPEED, cit::v1::SEVERITY_MEDIUM, kT0 - 100)};
    cit::v1::AlertEvent resolved = events[1];
    resolved.set_event_id(4);
    cit::v1::Alert* a = resolved.mutable_alert();
    a->set_state(cit::v1::ALERT_STATE_RESOLVED);
    for (auto [state, after_s] : {std::pair{cit::v1::ALERT_STATE_ACKNOWLEDGED, 30},
                                  std::pair{cit::v1::ALERT_STATE_RESOLVED, 90}}) {
      cit::v1::AlertAction* act = a->add_actions();
      act->set_state(state);
      act->set_actor("alice");
      act->mutable_time()->set_seconds(kT0 + 7300 + after_s);
    }
    events.push_back(resolved);
    ASSERT_TRUE(alerts_->Append(events).ok());
  }

  BackendDb db_{GetParam()};
  std::unique_ptr<RunStore> runs_;
  std::unique_ptr<AlertStore> alerts_;
  std::unique_ptr<PeriodReportTables> tables_;
};

INSTANTIATE_TEST_SUITE_P(Backends, PeriodTablesTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

TEST_P(PeriodTablesTest, EndedRunsOfThePeriodAreSummarisedOnceAndAgainAfterAChange) {
  SaveRuns();
  ASSERT_TRUE(tables_->SyncRuns().ok());
  auto todo = tables_->UnsummarisedRuns(Day(), 0);
  ASSERT_TRUE(todo.ok()) << todo.status();
  EXPECT_EQ(Ids(*todo), (std::set<std::string>{"R-1", "R-2"}));
  for (const cit::v1::Run& r : *todo) {
    EXPECT_EQ(r.version(), 1u);
    EXPECT_TRUE(r.state() == cit::v1::RUN_STATE_COMPLETED ||
                r.state() == cit::v1::RUN_STATE_ABORTED);
  }
  EXPECT_EQ(tables_->UnsummarisedRuns(Day(), 1)->size(), 1u);
  EXPECT_EQ(Ids(*tables_->UnsummarisedRuns(Day({"CIT-2", "CIT-9"}), 0)),
            std::set<std::string>{"R-2"});

  ASSERT_TRUE(tables_->StoreSummary((*todo)[0], Summary({}, 0, 1)).ok());
  ASSERT_TRUE(tables_->StoreSummary((*todo)[1], Summary({}, 0, 1)).ok());
  EXPECT_TRUE(tables_->UnsummarisedRuns(Day(), 0)->empty());
  // A new version of R-1 makes its summary outdated.
  ASSERT_TRUE(
      runs_->Save(MakeRun("R-1", "CIT-1", cit::v1::RUN_STATE_COMPLETED, kT0 + 3600, 2), Change())
          .ok());
  ASSERT_TRUE(tables_->SyncRuns().ok());
  todo = tables_->UnsummarisedRuns(Day(), 0);
  ASSERT_TRUE(todo.ok());
  ASSERT_EQ(Ids(*todo), std::set<std::string>{"R-1"});
  EXPECT_EQ((*todo)[0].version(), 2u);
}

TEST_P(PeriodTablesTest, ThePeriodsRowsCountRunsStopsAlertsAndSummaries) {
  SaveRuns();
  SaveAlerts();
  ASSERT_TRUE(tables_->SyncRuns().ok());
  const cit::v1::Run r1 = MakeRun("R-1", "CIT-1", cit::v1::RUN_STATE_COMPLETED, kT0 + 3600);
  const cit::v1::Run r2 = MakeRun("R-2", "CIT-2", cit::v1::RUN_STATE_ABORTED, kT0 + 7200);
  // R-1's first summary is replaced whole: its three stops become two.
  ASSERT_TRUE(tables_
                  ->StoreSummary(r1, Summary({{"X", StopOutcome::kMissed, 0, 0},
                                              {"Y", StopOutcome::kMissed, 0, 0},
                                              {"Z", StopOutcome::kMissed, 0, 0}},
                                             9999, 9))
                  .ok());
  ASSERT_TRUE(tables_
                  ->StoreSummary(r1, Summary({{"Vault", StopOutcome::kOnTime, 0, 0},
                                              {"Branch", StopOutcome::kLate, 90, 2}},
                                             500, 100))
                  .ok());
  ASSERT_TRUE(
      tables_->StoreSummary(r2, Summary({{"Vault", StopOutcome::kEarly, -30, -1}}, 250.5, 10))
          .ok());

  absl::StatusOr<PeriodRows> rows = tables_->Read(Day());
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::vector<std::pair<int, uint64_t>> states;
  for (const auto& s : rows->runs_by_state) states.emplace_back(s.state, s.runs);
  std::sort(states.begin(), states.end());
  EXPECT_EQ(states, (std::vector<std::pair<int, uint64_t>>{{cit::v1::RUN_STATE_ACTIVE, 1},
                                                           {cit::v1::RUN_STATE_COMPLETED, 1},
                                                           {cit::v1::RUN_STATE_ABORTED, 1}}));
  EXPECT_EQ(rows->vehicles, 2u);
  std::vector<std::tuple<std::string, int, int, uint64_t>> stops;
  for (const auto& s : rows->stops) {
    stops.emplace_back(s.site, static_cast<int>(s.outcome), s.bucket, s.stops);
  }
  std::sort(stops.begin(), stops.end());
  EXPECT_EQ(stops, (std::vector<std::tuple<std::string, int, int, uint64_t>>{
                       {"Branch", static_cast<int>(StopOutcome::kLate), 2, 1},
                       {"Vault", static_cast<int>(StopOutcome::kOnTime), 0, 1},
                       {"Vault", static_cast<int>(StopOutcome::kEarly), -1, 1}}));
  // Critical first; the overspeed was the day before.
  ASSERT_EQ(rows->alerts.size(), 2u);
  EXPECT_EQ(rows->alerts[0].kind, cit::v1::ALERT_KIND_PANIC);
  EXPECT_EQ(rows->alerts[0].severity, cit::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(rows->alerts[0].alerts, 1u);
  EXPECT_EQ(rows->alerts[1].kind, cit::v1::ALERT_KIND_ROUTE_DEVIATION);
  ASSERT_EQ(rows->acted.size(), 1u);
  EXPECT_EQ(rows->acted[0].severity, cit::v1::SEVERITY_CRITICAL);
  cit::v1::Alert acted;
  ASSERT_TRUE(acted.ParseFromString(rows->acted[0].proto));
  EXPECT_EQ(acted.actions_size(), 2);
  EXPECT_DOUBLE_EQ(rows->off_route_m, 750.5);
  EXPECT_DOUBLE_EQ(rows->off_route_s, 75.05);
  EXPECT_EQ(rows->records, 110.0);
  EXPECT_EQ(rows->fixes, 108.0);
  EXPECT_EQ(rows->gaps, 2.0);
  EXPECT_DOUBLE_EQ(rows->gap_s, 151);
  EXPECT_EQ(rows->delayed, 6.0);
  EXPECT_EQ(rows->seq_gaps, 0u);

  // One vehicle; and a day without anything.
  rows = tables_->Read(Day({"CIT-2"}));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->runs_by_state.size(), 1u);
  EXPECT_EQ(rows->runs_by_state[0].state, cit::v1::RUN_STATE_ABORTED);
  EXPECT_EQ(rows->vehicles, 1u);
  EXPECT_EQ(rows->alerts.size(), 1u);
  EXPECT_EQ(rows->records, 10.0);
  cit::v1::PeriodReportRequest later = Day();
  later.mutable_from()->set_seconds(kT0 + 10 * kDayS);
  later.mutable_to()->set_seconds(kT0 + 11 * kDayS);
  rows = tables_->Read(later);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->runs_by_state.empty());
  EXPECT_EQ(rows->vehicles, 0u);
  EXPECT_TRUE(rows->alerts.empty());
  EXPECT_EQ(rows->records, 0.0);
}

// Sequence gaps the agents declared count by the time they were stored (the record store's
// seq_gaps table, in the same database on either backend).
TEST_P(PeriodTablesTest, DeclaredSequenceGapsOfThePeriodAreCounted) {
  auto store = db_.OpenRecordStore();
  ASSERT_TRUE(store.ok()) << store.status();
  const int64_t now_ns = kT0 * 1'000'000'000 + 5;
  ASSERT_TRUE(db_.Exec("INSERT INTO seq_gaps (vehicle_id, first_seq, last_seq, server_time_ns) "
                       "VALUES ('CIT-1', 5, 9, " +
                       std::to_string(now_ns) + "), ('CIT-2', 3, 3, " + std::to_string(now_ns) +
                       "), ('CIT-1', 20, 21, " + std::to_string(now_ns - 10) + ")")
                  .ok());
  auto rows = tables_->Read(Day());
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->seq_gaps, 2u);
  EXPECT_EQ(tables_->Read(Day({"CIT-2"}))->seq_gaps, 1u);
}

// The owner migrates; the server's login role (citwatch_server) then keeps the derived tables
// (insert, update, delete) and reads the runs and alerts it joins.
TEST(PostgresPeriodTablesTest, TheServerRoleKeepsTheReportTables) {
  BackendDb db("postgresql");
  ASSERT_TRUE(db.OpenRunStore().ok());
  ASSERT_TRUE(db.OpenAlertStore().ok());
  ASSERT_TRUE(PostgresPeriodTables::Open(db.conninfo()).ok()) << "the owner migrates";
  const std::string conninfo = db.ServerRoleConninfo();
  auto runs = PostgresRunStore::Open(conninfo);
  ASSERT_TRUE(runs.ok()) << runs.status();
  auto tables = PostgresPeriodTables::Open(conninfo);
  ASSERT_TRUE(tables.ok()) << tables.status();
  const cit::v1::Run run = MakeRun("R-1", "CIT-1", cit::v1::RUN_STATE_COMPLETED, kT0 + 60);
  ASSERT_TRUE((*runs)->Save(run, Change()).ok());
  ASSERT_TRUE((*tables)->SyncRuns().ok());
  ASSERT_TRUE(
      (*runs)
          ->Save(MakeRun("R-1", "CIT-1", cit::v1::RUN_STATE_COMPLETED, kT0 + 60, 2), Change())
          .ok());
  absl::Status synced = (*tables)->SyncRuns();
  ASSERT_TRUE(synced.ok()) << synced;
  ASSERT_EQ((*tables)->UnsummarisedRuns(Day(), 0)->size(), 1u);
  for (int i = 0; i < 2; ++i) {
    absl::Status s =
        (*tables)->StoreSummary(run, Summary({{"Vault", StopOutcome::kOnTime, 0, 0}}, 100, 50));
    ASSERT_TRUE(s.ok()) << s;
  }
  auto rows = (*tables)->Read(Day());
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->stops.size(), 1u);
  EXPECT_EQ(rows->records, 50.0);
}

}  // namespace
}  // namespace cit::dispatch
