// `dispatchctl audit verify` against a live dispatch-server on both store backends
// (Backends/AuditVerifyE2eTest.<case>/sqlite and /postgresql): the fixed scenario, with an
// operator's and a dispatcher's actions, verifies intact after a restart, every chain of the run
// anchored by a signed checkpoint; a record or a plan event changed in the store while the server
// was stopped is named. On PostgreSQL the chains are in its database (changed there by the
// superuser, triggers off), beside the checkpoints. Two real servers on one PostgreSQL database
// (FleetVerifyE2eTest): the run recorded by instance B while A was stopped verifies intact on
// both after A restarts, also with the auditor's copies of both public keys.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <pqxx/pqxx>
#include <regex>
#include <string>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/audit/audit_config.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/ctl/scenario.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

namespace sc = cit::test::scenario;

class AuditVerifyE2eTest : public cit::test::LiveServerTest,
                           public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (pg()) {
      cit::test::PostgresServer* server = cit::test::SharedPostgres();
      ASSERT_NE(server, nullptr);
      absl::StatusOr<std::string> db = server->CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      conninfo_ = *db;
      store_config_ = "backend = \"postgresql\"\nconnection = \"" + conninfo_ + "\"\n";
    }
    LiveServerTest::SetUp();
  }

  bool pg() const { return GetParam() == "postgresql"; }

  // The scenario, an alert acknowledged and resolved, the run aborted; then SIGTERM (the
  // shutdown checkpoint anchors all of it).
  void RecordRun() {
    RunScenario();
    const uint64_t door = FirstAlertId("DOOR_OPEN_OUTSIDE_STOP");
    ASSERT_EQ(Ctl("olga", "ack " + std::to_string(door) + " --comment 'calling the crew'"), 0)
        << err_;
    ASSERT_EQ(Ctl("olga", "resolve " + std::to_string(door) + " --comment 'count correct'"), 0)
        << err_;
    ASSERT_EQ(Ctl("dora", std::string("plan abort ") + sc::kRun + " --comment recalled"), 0)
        << err_;
    StopServer();
  }

  // `sql` on the stopped server's store with `$1`/`?1` bound to `bytes`, its append-only
  // triggers on `table` off: the attacker with access to the database.
  void Tamper(const std::string& table, const std::string& set_where, const std::string& bytes) {
    if (pg()) {
      pqxx::connection c(conninfo_);
      pqxx::work w(c);
      w.exec("ALTER TABLE " + table + " DISABLE TRIGGER USER");
      w.exec_params("UPDATE " + table + " SET " + set_where, pqxx::binarystring(bytes));
      w.commit();
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "dispatch.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, ("DROP TRIGGER " + table + "_append_only_update").c_str(), nullptr,
                           nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string sql = "UPDATE " + table + " SET " + set_where;
    sql.replace(sql.find("$1"), 2, "?1");
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_bind_blob(st, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }

  std::string conninfo_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AuditVerifyE2eTest,
                         ::testing::Values(std::string("sqlite"), std::string("postgresql")),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// "  <chain>  intact  <n>  #<checkpoint>": verified and anchored by a signed checkpoint.
bool AnchoredIntact(const std::string& out, const std::string& chain) {
  return std::regex_search(out, std::regex("\\s" + chain + "\\s+intact\\s+\\d+\\s+#\\d+"));
}

TEST_P(AuditVerifyE2eTest, ARunVerifiesAfterARestartWithEveryChainAnchored) {
  RecordRun();
  StartServer();
  ASSERT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 0) << out_ << err_;
  EXPECT_NE(out_.find("intact"), std::string::npos) << out_;
  for (const std::string& chain :
       {std::string("records/") + sc::kVehicle, std::string("plans"), std::string("alerts")}) {
    EXPECT_TRUE(AnchoredIntact(out_, chain)) << chain << " in:\n" << out_;
  }
  EXPECT_EQ(Ctl("aude", std::string("audit verify --vehicle ") + sc::kVehicle), 0) << out_ << err_;
}

TEST_P(AuditVerifyE2eTest, ARecordChangedInTheStoreIsNamed) {
  RecordRun();
  // Fix seq 9 moved by ~100 m.
  cit::v1::Record forged = sc::MakeRecords(base_)[8];
  ASSERT_EQ(forged.seq(), 9u);
  forged.mutable_fix()->set_lat_deg(forged.fix().lat_deg() + 0.001);
  Tamper("records", "body = $1 WHERE seq = 9", forged.SerializeAsString());
  StartServer();
  EXPECT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 1) << out_ << err_;
  EXPECT_NE(out_.find("BROKEN at record seq 9"), std::string::npos) << out_;
}

TEST_P(AuditVerifyE2eTest, APlanEventChangedInTheStoreIsNamed) {
  RecordRun();
  Tamper("plan_events", "hash = $1 WHERE idx = 2", std::string(32, '\x01'));
  StartServer();
  EXPECT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 1) << out_ << err_;
  EXPECT_NE(out_.find("BROKEN: plans at plan event 2"), std::string::npos) << out_;
}

// Instances "a" (the fixture's server) and "b" on one PostgreSQL database, each with its own
// signing key and the other's public key in [audit] instance_keys.
class FleetVerifyE2eTest : public cit::test::LiveServerTest {
 protected:
  struct Instance {
    std::unique_ptr<cit::test::Process> server;
    int telemetry_port = 0;
    int operator_port = 0;
    std::string store_config;
    std::string extra_config;
  };

  void SetUp() override {
    cit::test::PostgresServer* pg = cit::test::SharedPostgres();
    ASSERT_NE(pg, nullptr);
    absl::StatusOr<std::string> db = pg->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    const std::string store = "backend = \"postgresql\"\nconnection = \"" + *db + "\"\ninstance = ";
    // Both keys exist before either server reads the other's public half.
    ASSERT_TRUE(cit::dispatch::LoadSigningKey({}, dir_ / "dispatch.db").ok());
    ASSERT_TRUE(cit::dispatch::LoadSigningKey({}, dir_ / "b.db").ok());
    store_config_ = store + "\"a\"\n";
    extra_config_ = "[audit]\ninstance_keys = [\"" + KeyOf("b.db") + "\"]\n";
    b_.store_config = store + "\"b\"\n";
    b_.extra_config = "[audit]\nsigning_key = \"" + (dir_ / "b.db.checkpoint-key.pem").string() +
                      "\"\ninstance_keys = [\"" + KeyOf("dispatch.db") + "\"]\n";
    b_.telemetry_port = cit::test::FreeTcpPort();
    b_.operator_port = cit::test::FreeTcpPort();
    LiveServerTest::SetUp();
  }
  void TearDown() override {
    OnB([&] {
      if (server_) StopServer();
    });
  }

  std::string KeyOf(const std::string& db) const {
    return (dir_ / (db + ".checkpoint-key.pub.pem")).string();
  }
  // Runs `fn` with the fixture pointed at instance B (its process, ports and config).
  void OnB(const std::function<void()>& fn) {
    Swap();
    fn();
    Swap();
  }
  void Swap() {
    std::swap(server_, b_.server);
    std::swap(telemetry_port_, b_.telemetry_port);
    std::swap(operator_port_, b_.operator_port);
    std::swap(store_config_, b_.store_config);
    std::swap(extra_config_, b_.extra_config);
  }

  Instance b_;
};

TEST_F(FleetVerifyE2eTest, ARunRecordedByBWhileAWasStoppedVerifiesOnBothInstances) {
  OnB([&] { StartServer(); });
  StopServer();  // A
  OnB([&] { RunScenario(); });
  StartServer();  // A again: its start-up checkpoint lists what B stored meanwhile
  ASSERT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 0) << out_ << err_;
  EXPECT_TRUE(AnchoredIntact(out_, std::string("records/") + sc::kVehicle)) << out_;
  EXPECT_EQ(out_.find("appeared while"), std::string::npos) << out_;
  OnB([&] { EXPECT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 0) << out_ << err_; });
  // The auditor's own copies of both instances' keys: every checkpoint verifies with one.
  EXPECT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun + " --public-key " +
                            KeyOf("dispatch.db") + " --public-key " + KeyOf("b.db")),
            0)
      << out_ << err_;
  // With only A's key, B's checkpoints are named.
  EXPECT_EQ(Ctl("aude",
                std::string("audit verify ") + sc::kRun + " --public-key " + KeyOf("dispatch.db")),
            1)
      << out_ << err_;
  EXPECT_NE(out_.find("of instance \"b\""), std::string::npos) << out_;
}

}  // namespace
}  // namespace cit::ctl
