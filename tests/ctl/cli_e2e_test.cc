// dispatchctl end to end against a live dispatch-server (TLS, bearer tokens, its store on SQLite
// and on PostgreSQL: Backends/CliE2eTest.<case>/sqlite and /postgresql): the fixed
// scenario (tests/ctl/scenario.h) is streamed in as vehicle CIT-0001 over mTLS, then the CLI
// plans, acknowledges, reports, exports and verifies. The report is compared with the reviewed
// expected output tests/ctl/data/expected_report.txt (server-clock times and the chain head are
// masked; event times are shown relative to the scenario start).
//
// Regenerate the expected file after a reviewed change with CIT_UPDATE_EXPECTED=1.
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>

#include "cit/v1/dispatch.pb.h"
#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/auth/token_file.h"
#include "tests/ctl/ctl_fixtures.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/ctl/scenario.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

namespace sc = cit::test::scenario;
using cit::test::Process;
using cit::test::ReadFile;
using cit::test::Shell;
using google::protobuf::util::TimeUtil;

using cit::test::Quote;

// Event times -> "T+<seconds>" relative to the scenario start; times on lines that carry server
// clock readings (created, dispatched, ..., raised, acked) -> "<server-time>"; hashes masked.
std::string Normalise(const std::string& text, const google::protobuf::Timestamp& base) {
  static const std::regex kTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  static const std::regex kServerLine(
      R"(^\s*(created|dispatched|started|ended|raised|cleared|acked|resolved)\b)");
  static const std::regex kHash(R"([0-9a-f]{64})");
  // Backfilled alerts carry their detection delay, which depends on when the test ran.
  static const std::regex kDelay(R"(\(delayed \d+ s\))");
  std::istringstream in(text);
  std::ostringstream out;
  std::string line;
  while (std::getline(in, line)) {
    const bool server_line = std::regex_search(line, kServerLine);
    std::string result;
    auto begin = std::sregex_iterator(line.begin(), line.end(), kTime);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      result += line.substr(last, it->position() - last);
      google::protobuf::Timestamp t;
      if (server_line || !TimeUtil::FromString(it->str(), &t)) {
        result += "<server-time>";
      } else {
        const int64_t s = TimeUtil::DurationToSeconds(t - base);
        result += (s < 0 ? "T-" : "T+") + std::to_string(std::llabs(s)) + "s";
      }
      last = it->position() + it->length();
    }
    result += line.substr(last);
    result = std::regex_replace(result, kDelay, "(delayed)");
    out << std::regex_replace(result, kHash, "<sha256>") << "\n";
  }
  return out.str();
}

class CliE2eTest : public cit::test::BackendLiveServerTest {
 protected:
  // On the stopped server's store, as an attacker with access to it: the append-only trigger
  // off (dropped in the SQLite file, disabled as the PostgreSQL superuser), then the body of
  // record `seq` replaced.
  void ReplaceRecordBody(uint64_t seq, const std::string& body) {
    const std::string where = " WHERE seq = " + std::to_string(seq);
    if (pg()) {
      pqxx::connection c(pg_conninfo_);
      pqxx::work w(c);
      w.exec("ALTER TABLE records DISABLE TRIGGER USER");
      w.exec_params("UPDATE records SET body = $1" + where, pqxx::binarystring(body));
      w.commit();
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "dispatch.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "DROP TRIGGER records_append_only_update", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, ("UPDATE records SET body = ?1" + where).c_str(), -1, &st, nullptr),
        SQLITE_OK);
    sqlite3_bind_blob(st, 1, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, CliE2eTest, ::testing::Values("sqlite", "postgresql"),
                         cit::test::BackendParamName);

TEST_P(CliE2eTest, ReportOnFixedScenarioMatchesReviewedExpectedOutput) {
  RunScenario();
  const uint64_t door = FirstAlertId("DOOR_OPEN_OUTSIDE_STOP");
  ASSERT_EQ(Ctl("olga", "ack " + std::to_string(door) + " --comment 'calling the crew'"), 0)
      << err_;
  ASSERT_EQ(Ctl("olga", "resolve " + std::to_string(door) + " --comment 'cash count correct'"), 0)
      << err_;
  ASSERT_EQ(Ctl("dora", std::string("plan abort ") + sc::kRun + " --comment 'vehicle recalled'"), 0)
      << err_;
  ASSERT_EQ(Ctl("aude", std::string("audit report ") + sc::kRun), 0) << err_;
  const std::string actual = Normalise(out_, base_);
  const auto expected_path = cit::test::SourcePath("tests/ctl/data/expected_report.txt");
  if (std::getenv("CIT_UPDATE_EXPECTED") != nullptr) {
    std::ofstream(expected_path) << actual;
    GTEST_SKIP() << "wrote " << expected_path << ": review it";
  }
  EXPECT_EQ(actual, ReadFile(expected_path)) << "raw report:\n" << out_;
  // Who did what is on record.
  EXPECT_NE(out_.find("by olga \"calling the crew\""), std::string::npos) << out_;
  EXPECT_NE(out_.find("by dora \"vehicle recalled\""), std::string::npos) << out_;
}

TEST_P(CliE2eTest, ExportsAreWellFormedAndVerifyPassesOnAnIntactChain) {
  RunScenario();
  for (const char* f : {"geojson", "gpx", "csv"}) {
    const auto file = dir_ / (std::string("run.") + f);
    ASSERT_EQ(Ctl("aude", std::string("audit export ") + sc::kRun + " --format " + f + " -o " +
                              file.string()),
              0)
        << err_;
    EXPECT_GT(std::filesystem::file_size(file), 100u) << f;
  }
  const std::string xsd = cit::test::SourcePath("tests/ctl/data/gpx11_subset.xsd").string();
  EXPECT_EQ(Shell("xmllint --noout --schema " + xsd + " " + (dir_ / "run.gpx").string() +
                  " >/dev/null 2>&1"),
            0);
  EXPECT_EQ(ReadFile(dir_ / "run.csv").rfind("seq,event_time,kind,", 0), 0u);
  EXPECT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 0) << out_ << err_;
  EXPECT_NE(out_.find("intact"), std::string::npos);
  EXPECT_EQ(Ctl("aude", std::string("audit verify --vehicle ") + sc::kVehicle), 0);
}

// `audit report RUN --export FILE`: the same report on stdout and the same file as the two
// commands one after the other, from one process over one connection.
TEST_P(CliE2eTest, ReportWithExportGivesTheReportAndTheSameFileAsTheTwoCommands) {
  RunScenario();
  ASSERT_EQ(Ctl("aude", std::string("audit report ") + sc::kRun), 0) << err_;
  const std::string report_alone = out_;
  const auto alone = dir_ / "alone.csv";
  ASSERT_EQ(
      Ctl("aude", std::string("audit export ") + sc::kRun + " --format csv -o " + alone.string()),
      0)
      << err_;
  const auto together = dir_ / "together.csv";
  ASSERT_EQ(Ctl("aude", std::string("audit report ") + sc::kRun + " --export " + together.string() +
                            " --format csv"),
            0)
      << err_;
  EXPECT_EQ(out_, report_alone);
  EXPECT_NE(err_.find("wrote " + together.string()), std::string::npos) << err_;
  EXPECT_EQ(ReadFile(together), ReadFile(alone));
  // An unknown run: the report's answer (not found), and no export file left behind.
  const auto none = dir_ / "none.csv";
  EXPECT_EQ(Ctl("aude", "audit report NO-SUCH-RUN --export " + none.string()), 5) << err_;
  EXPECT_FALSE(std::filesystem::exists(none));
}

TEST_P(CliE2eTest, OneAlteredRecordInTheDatabaseFailsVerifyAndIsNamed) {
  RunScenario();
  StopServer();
  // Move fix seq 9 by ~100 m directly in the database (append-only trigger off first).
  cit::v1::Record forged = sc::MakeRecords(base_)[8];
  ASSERT_EQ(forged.seq(), 9u);
  forged.mutable_fix()->set_lat_deg(forged.fix().lat_deg() + 0.001);
  std::string body;
  ASSERT_TRUE(forged.SerializeToString(&body));
  ReplaceRecordBody(9, body);
  StartServer();
  EXPECT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 1) << out_ << err_;
  EXPECT_NE(out_.find("BROKEN at record seq 9"), std::string::npos) << out_;
  EXPECT_NE(out_.find(sc::kVehicle), std::string::npos) << out_;
}

// Roles are the operator API's, not the store's: SQLite only.
class CliRolesTest : public cit::test::LiveServerTest {};

TEST_F(CliRolesTest, RolesAreEnforced) {
  RunScenario();
  const uint64_t door = FirstAlertId("DOOR_OPEN_OUTSIDE_STOP");
  // An auditor cannot acknowledge.
  EXPECT_EQ(Ctl("aude", "ack " + std::to_string(door)), 4) << err_;
  EXPECT_NE(err_.find("PERMISSION_DENIED"), std::string::npos);
  // An operator cannot change plans.
  EXPECT_EQ(Ctl("olga", std::string("plan abort ") + sc::kRun), 4) << err_;
  EXPECT_EQ(Ctl("olga", "plan create " + WritePlanJson()), 4) << err_;
  // Missing (dispatchctl says so before sending) and unknown tokens are refused.
  EXPECT_EQ(Ctl("", "fleet"), 4) << err_;
  EXPECT_NE(err_.find("no token"), std::string::npos) << err_;
  EXPECT_EQ(Ctl("stranger", "fleet"), 4) << err_;
  // The operator may acknowledge; the run is unchanged by the refused abort.
  EXPECT_EQ(Ctl("olga", "ack " + std::to_string(door) + " -c mine"), 0) << err_;
  EXPECT_EQ(Ctl("olga", std::string("plan show ") + sc::kRun), 0) << err_;
  EXPECT_EQ(out_.find("ABORTED"), std::string::npos) << out_;
}

TEST_P(CliE2eTest, WatchStreamsJsonLinesAndResumesAfterAServerRestart) {
  const std::string ctl = cit::test::BuiltProgram("dispatchctl/dispatchctl").string();
  Process watch({"bash", "-c",
                 Quote(ctl) + " --server localhost:" + std::to_string(operator_port_) +
                     " --ca-file " + Quote((dir_ / "pki" / "ca.crt").string()) + " --token-file " +
                     Quote((dir_ / "olga.token").string()) + " --json watch >" +
                     Quote((dir_ / "watch.out").string()) + " 2>" +
                     Quote((dir_ / "watch.err").string())});
  RunScenario();
  auto events = [&] {
    std::vector<cit::v1::AlertEvent> out;
    std::istringstream in(ReadFile(dir_ / "watch.out"));
    std::string line;
    while (std::getline(in, line)) {
      cit::v1::AlertEvent e;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &e).ok()) << line;
      out.push_back(e);
    }
    return out;
  };
  ASSERT_TRUE(cit::test::WaitFor([&] { return events().size() >= 2; }, std::chrono::seconds(10)));
  const uint64_t door = FirstAlertId("DOOR_OPEN_OUTSIDE_STOP");
  StopServer();
  StartServer();
  ASSERT_EQ(Ctl("olga", "ack " + std::to_string(door) + " -c 'after restart'"), 0) << err_;
  ASSERT_TRUE(cit::test::WaitFor(
      [&] {
        for (const auto& e : events()) {
          if (e.alert().alert_id() == door &&
              e.alert().state() == cit::v1::ALERT_STATE_ACKNOWLEDGED) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(20)))
      << ReadFile(dir_ / "watch.out") << "\nstderr:\n"
      << ReadFile(dir_ / "watch.err") << "\nserver:\n"
      << ReadFile(dir_ / "server.log");
  // Resumed after the last event seen: nothing repeated, nothing out of order.
  uint64_t last = 0;
  for (const auto& e : events()) {
    EXPECT_GT(e.event_id(), last);
    last = e.event_id();
  }
  EXPECT_NE(ReadFile(dir_ / "watch.err").find("reconnecting"), std::string::npos);
}

}  // namespace
}  // namespace cit::ctl
