// `dispatchctl report` end to end against a live dispatch-server: the fixed scenario
// (tests/ctl/scenario.h) with two stop windows moved so that each outcome occurs, then the
// period report in every format, checked against figures worked out by hand:
//
//   S1 "Depot Zurich": window opens T+30 s, the truck is there from T+0 -> early by 30 s (-1 min)
//   S2 "Branch Bahnhofstrasse": window closes T+120 s, arrival T+180 s -> late by 60 s (+1 min)
//   S3 "ATM Paradeplatz": never reached, the run is aborted -> skipped
//   off route: the detour from (300,0) to (700,0) m, six 10 s steps of 150 + 205.9 + 100 + 100 +
//     205.9 + 150 m = 911.8 m in 60 s; one ROUTE_DEVIATION alert
//   records: 36 fixes + 4 door events = 40, each stored 20 s or more after its event time (the
//     scenario ends 20 s before the test starts), so all 40 are delayed; fixes 10 s apart: no gap
//   alerts: DOOR_OPEN_OUTSIDE_STOP (critical; olga acknowledges then resolves it),
//     ROUTE_DEVIATION and CREW_INCOMPLETE (high), LATE_ARRIVAL at S2 (high), EARLY_ARRIVAL at
//     S1 (low)
//
// Every case runs on both store backends (Backends/PeriodReportE2eTest.<case>/sqlite and
// /postgresql): on PostgreSQL the runs, alerts, records and the report's tables are in a fresh
// database of the test process's own server (tests/support/postgres_server.h), and the figures
// are the same.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cit/v1/dispatch.pb.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/ctl/scenario.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

namespace sc = cit::test::scenario;
using cit::test::Plus;
using cit::test::ReadFile;

class PeriodReportE2eTest : public cit::test::LiveServerTest,
                            public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      cit::test::PostgresServer* pg = cit::test::SharedPostgres();
      ASSERT_NE(pg, nullptr);
      absl::StatusOr<std::string> db = pg->CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      store_config_ = "backend = \"postgresql\"\nconnection = \"" + *db + "\"\n";
    }
    LiveServerTest::SetUp();
  }

  void RunEditedScenario() {
    plan_edit_ = [this](cit::v1::RunPlan& plan) {
      *plan.mutable_stops(0)->mutable_arrival_earliest() = Plus(base_, 30);
      *plan.mutable_stops(1)->mutable_arrival_latest() = Plus(base_, 120);
    };
    RunScenario();
    const uint64_t door = FirstAlertId("DOOR_OPEN_OUTSIDE_STOP");
    ASSERT_EQ(Ctl("olga", "ack " + std::to_string(door) + " --comment 'calling the crew'"), 0)
        << err_;
    ASSERT_EQ(Ctl("olga", "resolve " + std::to_string(door) + " --comment 'count correct'"), 0)
        << err_;
    ASSERT_EQ(Ctl("dora", std::string("plan abort ") + sc::kRun + " --comment recalled"), 0)
        << err_;
    // The day of the scenario: base_ is a few minutes ago; a day around it holds the run.
    from_ = google::protobuf::util::TimeUtil::ToString(Plus(base_, -3600));
    to_ = google::protobuf::util::TimeUtil::ToString(Plus(base_, 3600));
  }

  cit::v1::PeriodReport JsonReport(const std::string& extra = "") {
    EXPECT_EQ(Ctl("aude", "report --from " + from_ + " --to " + to_ + " --format json " + extra), 0)
        << err_;
    cit::v1::PeriodReport r;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out_, &r).ok()) << out_;
    return r;
  }

  std::string from_;
  std::string to_;
};

uint64_t AlertCount(const cit::v1::PeriodReport& r, cit::v1::AlertKind kind) {
  uint64_t n = 0;
  for (const auto& a : r.alerts()) n += a.kind() == kind ? a.count() : 0;
  return n;
}

TEST_P(PeriodReportE2eTest, JsonHoldsTheFiguresWorkedOutByHand) {
  RunEditedScenario();
  const cit::v1::PeriodReport r = JsonReport();
  EXPECT_EQ(r.runs_planned(), 1u);
  EXPECT_EQ(r.runs_aborted(), 1u);
  EXPECT_EQ(r.runs_completed(), 0u);
  EXPECT_EQ(r.runs_in_progress(), 0u);
  EXPECT_EQ(r.vehicles(), 1u);
  // Summarised for this report, unless the server's background summariser (every 60 s) was first.
  EXPECT_LE(r.runs_summarised(), 1u);

  const auto& t = r.punctuality().total();
  EXPECT_EQ(t.on_time(), 0u);
  EXPECT_EQ(t.early(), 1u);
  EXPECT_EQ(t.late(), 1u);
  EXPECT_EQ(t.missed(), 0u);
  EXPECT_EQ(t.skipped(), 1u);
  ASSERT_EQ(r.punctuality().buckets_size(), 2);
  EXPECT_EQ(r.punctuality().buckets(0).minutes(), -1);
  EXPECT_EQ(r.punctuality().buckets(0).stops(), 1u);
  EXPECT_EQ(r.punctuality().buckets(1).minutes(), 1);
  EXPECT_EQ(r.punctuality().buckets(1).stops(), 1u);
  ASSERT_EQ(r.punctuality().sites_size(), 3);
  EXPECT_EQ(r.punctuality().sites(0).site(), "ATM Paradeplatz");
  EXPECT_EQ(r.punctuality().sites(0).skipped(), 1u);
  EXPECT_EQ(r.punctuality().sites(1).site(), "Branch Bahnhofstrasse");
  EXPECT_EQ(r.punctuality().sites(1).late(), 1u);
  EXPECT_EQ(r.punctuality().sites(2).site(), "Depot Zurich");
  EXPECT_EQ(r.punctuality().sites(2).early(), 1u);

  EXPECT_EQ(AlertCount(r, cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP), 1u);
  EXPECT_EQ(AlertCount(r, cit::v1::ALERT_KIND_ROUTE_DEVIATION), 1u);
  EXPECT_EQ(AlertCount(r, cit::v1::ALERT_KIND_CREW_INCOMPLETE), 1u);
  EXPECT_EQ(AlertCount(r, cit::v1::ALERT_KIND_LATE_ARRIVAL), 1u);
  EXPECT_EQ(AlertCount(r, cit::v1::ALERT_KIND_EARLY_ARRIVAL), 1u);
  EXPECT_EQ(r.alerts_total(), 5u);
  EXPECT_EQ(r.deviations(), 1u);
  EXPECT_NEAR(r.off_route_km(), 0.9118, 0.001);
  EXPECT_NEAR(r.off_route_s(), 60, 1e-6);

  // Critical first: the door alert, acknowledged and resolved by olga.
  ASSERT_GE(r.by_severity_size(), 2);
  EXPECT_EQ(r.by_severity(0).key(), "CRITICAL");
  EXPECT_EQ(r.by_severity(0).raised(), 1u);
  EXPECT_EQ(r.by_severity(0).acknowledged(), 1u);
  EXPECT_EQ(r.by_severity(0).resolved(), 1u);
  EXPECT_GT(r.by_severity(0).ack_p50_s(), 0);
  EXPECT_EQ(r.by_severity(0).ack_p50_s(), r.by_severity(0).ack_p95_s());  // one value
  EXPECT_GE(r.by_severity(0).resolve_p50_s(), r.by_severity(0).ack_p50_s());
  EXPECT_EQ(r.by_severity(1).key(), "HIGH");
  EXPECT_EQ(r.by_severity(1).raised(), 3u);
  EXPECT_EQ(r.by_severity(1).acknowledged(), 0u);
  ASSERT_EQ(r.by_operator_size(), 1);
  EXPECT_EQ(r.by_operator(0).key(), "olga");
  EXPECT_EQ(r.by_operator(0).acknowledged(), 1u);
  EXPECT_EQ(r.by_operator(0).resolved(), 1u);

  EXPECT_EQ(r.records(), 40u);
  EXPECT_EQ(r.fixes(), 36u);
  EXPECT_EQ(r.gaps(), 0u);
  EXPECT_EQ(r.delayed_records(), 40u);
  EXPECT_EQ(r.seq_gaps(), 0u);

  // The second report reads the stored summary instead of the records.
  EXPECT_EQ(JsonReport().runs_summarised(), 0u);
}

TEST_P(PeriodReportE2eTest, VehicleAndGroupFiltersAndAnEmptyPeriod) {
  RunEditedScenario();
  EXPECT_EQ(JsonReport(std::string("--vehicle ") + sc::kVehicle).runs_planned(), 1u);
  const cit::v1::PeriodReport other = JsonReport("--vehicle CIT-9999");
  EXPECT_EQ(other.runs_planned(), 0u);
  EXPECT_EQ(other.alerts_total(), 0u);
  EXPECT_EQ(other.records(), 0u);
  std::ofstream(dir_ / "group.txt") << "# Zurich trucks\nCIT-9999\n  " << sc::kVehicle << "  \n";
  EXPECT_EQ(JsonReport("--group " + (dir_ / "group.txt").string()).alerts_total(), 5u);
  // The day before holds nothing.
  from_ = google::protobuf::util::TimeUtil::ToString(Plus(base_, -2 * 86400));
  to_ = google::protobuf::util::TimeUtil::ToString(Plus(base_, -86400));
  const cit::v1::PeriodReport before = JsonReport();
  EXPECT_EQ(before.runs_planned(), 0u);
  EXPECT_EQ(before.alerts_total(), 0u);
}

TEST_P(PeriodReportE2eTest, TableCsvAndHtml) {
  RunEditedScenario();
  const std::string period = "report --from " + from_ + " --to " + to_;
  ASSERT_EQ(Ctl("aude", period), 0) << err_;
  EXPECT_NE(out_.find("planned 1  completed 0  aborted 1  in progress 0  not dispatched 0"),
            std::string::npos)
      << out_;
  EXPECT_NE(out_.find("3 stops: on time 0 (0.0%)  early 1  late 1  missed 0  skipped 1"),
            std::string::npos)
      << out_;
  EXPECT_NE(out_.find("1 route deviations, 0.91 km and 1m00s off route"), std::string::npos)
      << out_;
  EXPECT_NE(out_.find("40 records (36 fixes), 0 gaps"), std::string::npos) << out_;

  ASSERT_EQ(Ctl("aude", period + " --format csv"), 0) << err_;
  EXPECT_EQ(out_.rfind("section,group,item,metric,value\n", 0), 0u);
  for (const char* line :
       {"runs,,,aborted,1\n", "punctuality,total,,early,1\n", "punctuality,minutes,1,stops,1\n",
        "punctuality,site,Branch Bahnhofstrasse,late,1\n",
        "alerts,CRITICAL,DOOR_OPEN_OUTSIDE_STOP,count,1\n", "response,operator,olga,resolved,1\n",
        "deviations,,,off_route_km,0.912\n", "completeness,,,delayed_records,40\n"}) {
    EXPECT_NE(out_.find(line), std::string::npos) << line << "\n" << out_;
  }

  const auto html = dir_ / "report.html";
  ASSERT_EQ(Ctl("aude", period + " --format html -o " + html.string()), 0) << err_;
  const std::string page = ReadFile(html);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(page.find("<script"), std::string::npos);  // self-contained, no script
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("Stops by site"), std::string::npos);
  EXPECT_NE(page.find("DOOR_OPEN_OUTSIDE_STOP CRITICAL"), std::string::npos);
  // Well-formed enough for a strict HTML parser.
  EXPECT_EQ(cit::test::Shell("xmllint --html --noout " + html.string() + " 2>/dev/null"), 0);
}

TEST_P(PeriodReportE2eTest, BadPeriodsAndAnOperatorAreRefusedWithWhatToDo) {
  EXPECT_EQ(Ctl("aude", "report --from 2026-13 --to 2026-12"), 2);
  EXPECT_NE(err_.find("--from: '2026-13' is not a month (2026-11), a day"), std::string::npos)
      << err_;
  EXPECT_EQ(Ctl("aude", "report --from 2026-12 --to 2026-11"), 2);
  EXPECT_NE(err_.find("give --to the same as or later than --from"), std::string::npos) << err_;
  EXPECT_EQ(Ctl("aude", "report --from 2024-01 --to 2026-01"), 6) << err_;  // refused
  EXPECT_NE(err_.find("longer than 366 days"), std::string::npos) << err_;
  std::ofstream(dir_ / "bad_group.txt") << "CIT 1\n";
  EXPECT_EQ(Ctl("aude",
                "report --from 2026-11 --to 2026-11 --group " + (dir_ / "bad_group.txt").string()),
            2);
  EXPECT_NE(err_.find("line 1: a vehicle id has a space"), std::string::npos) << err_;
  // Operators watch and acknowledge; reports are for auditors, dispatchers and admins.
  EXPECT_EQ(Ctl("olga", "report --from 2026-11 --to 2026-11"), 4) << err_;
  EXPECT_NE(err_.find("PERMISSION_DENIED"), std::string::npos) << err_;
}

INSTANTIATE_TEST_SUITE_P(Backends, PeriodReportE2eTest,
                         ::testing::Values(std::string("sqlite"), std::string("postgresql")),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace cit::ctl
