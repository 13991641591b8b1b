// Tamper tests (issue 12 §3-§6): a live dispatch-server records a run (plan created, dispatched,
// changed with a comment; alerts acknowledged and resolved; the run aborted), is stopped with
// SIGTERM (its shutdown checkpoint signed), and the database file is then edited with the
// SQLite library as an attacker with file access would: triggers dropped first, hashes
// recomputed where that helps the attacker. The server is started again and `dispatchctl audit
// verify` must exit 1 and name the first broken entry exactly. Every case runs on both store
// backends (Backends/TamperTest.<case>/sqlite and /postgresql): on PostgreSQL the attacker edits
// its database as the superuser (triggers disabled instead of dropped), where the checkpoints
// are too, listing its heads.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <functional>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/store/postgres_db.h"
#include "dispatch-server/store/record_hash.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/ctl/scenario.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

namespace sc = cit::test::scenario;
using cit::test::ReadFile;

// The attacker's tool: the SQLite library on the stopped server's file, or libpqxx as the
// superuser on its PostgreSQL database (`pg_conninfo` set). The SQL is SQLite's; on PostgreSQL
// "DROP TRIGGER <table>_append_only_..." disables the table's triggers and ?N becomes $N.
class Db {
 public:
  explicit Db(const std::filesystem::path& path, const std::string& pg_conninfo = "") {
    if (!pg_conninfo.empty()) {
      pg_ = std::make_unique<pqxx::connection>(pg_conninfo);
      return;
    }
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~Db() {
    if (db_ != nullptr) sqlite3_close(db_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql) {
    if (pg_) {
      std::smatch m;
      const std::string pg_sql =
          std::regex_match(sql, m, std::regex(R"(DROP TRIGGER (\w+)_append_only_\w+)"))
              ? "ALTER TABLE " + m[1].str() + " DISABLE TRIGGER USER"
              : sql;
      try {
        pqxx::nontransaction t(*pg_);
        t.exec(pg_sql);
      } catch (const std::exception& e) {
        ADD_FAILURE() << pg_sql << ": " << e.what();
      }
      return;
    }
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  // Runs `sql` with ?1.. bound to `args` (blobs); rows go to `row` as column blobs.
  void Query(const std::string& sql, const std::vector<std::string>& args,
             const std::function<void(const std::vector<std::string>&)>& row = nullptr) {
    if (pg_) {
      PgQuery(sql, args, row);
      return;
    }
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    for (size_t i = 0; i < args.size(); ++i) {
      sqlite3_bind_blob(st, static_cast<int>(i + 1), args[i].data(),
                        static_cast<int>(args[i].size()), SQLITE_TRANSIENT);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      std::vector<std::string> cols;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const void* p = sqlite3_column_blob(st, c);
        cols.emplace_back(p ? static_cast<const char*>(p) : "", sqlite3_column_bytes(st, c));
      }
      if (row) row(cols);
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(st);
  }

 private:
  // The PostgreSQL form of Query: bytea columns as their bytes, others as their text.
  void PgQuery(const std::string& sql, const std::vector<std::string>& args,
               const std::function<void(const std::vector<std::string>&)>& row) {
    const std::string pg_sql = std::regex_replace(sql, std::regex(R"(\?(\d))"), "$$$1");
    try {
      pqxx::nontransaction t(*pg_);
      pqxx::result r;
      if (args.empty()) {
        r = t.exec(pg_sql);
      } else if (args.size() == 1) {
        r = t.exec_params(pg_sql, pqxx::binarystring(args[0]));
      } else {
        ASSERT_EQ(args.size(), 2u);
        r = t.exec_params(pg_sql, pqxx::binarystring(args[0]), pqxx::binarystring(args[1]));
      }
      constexpr pqxx::oid kBytea = 17;
      for (const pqxx::row& fields : r) {
        std::vector<std::string> cols;
        for (const pqxx::field& f : fields) {
          cols.push_back(f.is_null()          ? std::string()
                         : f.type() == kBytea ? cit::dispatch::pg::Bytes(f)
                                              : std::string(f.c_str()));
        }
        if (row) row(cols);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << pg_sql << ": " << e.what();
    }
  }

  sqlite3* db_ = nullptr;
  std::unique_ptr<pqxx::connection> pg_;
};

class TamperTest : public cit::test::LiveServerTest,
                   public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      cit::test::PostgresServer* pg = cit::test::SharedPostgres();
      ASSERT_NE(pg, nullptr);
      absl::StatusOr<std::string> db = pg->CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      pg_conninfo_ = *db;
      store_config_ = "backend = \"postgresql\"\nconnection = \"" + pg_conninfo_ + "\"\n";
    }
    LiveServerTest::SetUp();
  }

  // The scenario plus an operator's and a dispatcher's actions on record.
  void RecordRun() {
    RunScenario();
    // A plan change of the dispatched run: refused without a reason, kept with one.
    std::string plan = ReadFile(WritePlanJson());
    plan = std::regex_replace(plan, std::regex(R"("corridor_half_width_m":100\.0+)"),
                              R"("corridor_half_width_m":150)");
    std::ofstream(dir_ / "plan2.json") << plan;
    EXPECT_EQ(Ctl("dora", "plan update " + (dir_ / "plan2.json").string()), 6) << err_;
    EXPECT_NE(err_.find("comment"), std::string::npos) << err_;
    ASSERT_EQ(Ctl("dora", "plan update " + (dir_ / "plan2.json").string() +
                              " --comment 'Bahnhofstrasse closed'"),
              0)
        << err_;
    door_ = FirstAlertId("DOOR_OPEN_OUTSIDE_STOP");
    ASSERT_EQ(Ctl("olga", "ack " + std::to_string(door_) + " --comment 'calling the crew'"), 0)
        << err_;
    // A critical alert is resolved only with a comment.
    EXPECT_EQ(Ctl("olga", "resolve " + std::to_string(door_)), 6) << err_;
    ASSERT_EQ(Ctl("olga", "resolve " + std::to_string(door_) + " --comment 'cash count correct'"),
              0)
        << err_;
    EXPECT_EQ(Ctl("dora", std::string("plan abort ") + sc::kRun), 6) << err_;
    ASSERT_EQ(Ctl("dora", std::string("plan abort ") + sc::kRun + " --comment 'vehicle recalled'"),
              0)
        << err_;
    ASSERT_EQ(Ctl("aude", std::string("audit verify ") + sc::kRun), 0) << out_ << err_;
    StopServer();  // SIGTERM: the shutdown checkpoint anchors everything above
  }

  // Starts the server on the edited file and runs `audit verify TARGET`; expects "broken".
  void ExpectBroken(const std::string& target, const std::vector<std::string>& expected) {
    StartServer();
    EXPECT_EQ(Ctl("aude", "audit verify " + target), 1) << out_ << err_;
    for (const std::string& e : expected) {
      EXPECT_NE(out_.find(e), std::string::npos) << "missing \"" << e << "\" in:\n" << out_ << err_;
    }
  }

  std::filesystem::path db_path() { return dir_ / "dispatch.db"; }
  // The store the attacker edits: the server's file, or its PostgreSQL database.
  std::unique_ptr<Db> Store() { return std::make_unique<Db>(db_path(), pg_conninfo_); }
  std::string pg_conninfo_;
  // Records of the scenario (seq 1..kRecords).
  const size_t kRecords = sc::MakeRecords().size();
  std::string Last() const { return std::to_string(kRecords); }
  const std::string run_ = sc::kRun;
  uint64_t door_ = 0;
};

TEST_P(TamperTest, ChangedCorridorWidthOfAPlanVersionIsNamed) {
  RecordRun();
  {
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER plan_events_append_only_update");
    std::string idx, body;
    db.Query("SELECT idx, body FROM plan_events WHERE version = 2 ORDER BY idx LIMIT 1", {},
             [&](const auto& r) {
               idx = r[0];
               body = r[1];
             });
    cit::v1::PlanEvent e;
    ASSERT_TRUE(e.ParseFromString(body));
    ASSERT_EQ(e.action(), cit::v1::PLAN_ACTION_UPDATE);
    e.mutable_run()->mutable_plan()->mutable_route()->set_corridor_half_width_m(5000);
    db.Query("UPDATE plan_events SET body = ?1 WHERE idx = " + idx, {e.SerializeAsString()});
  }
  // Every run verification checks the identity log too (its row is intact here).
  ExpectBroken(run_, {"BROKEN: plans at plan event", "v2 UPDATE by dora", "hash mismatch",
                      "\n  identities "});
}

TEST_P(TamperTest, DeletedAcknowledgeEventIsNamed) {
  RecordRun();
  std::string ack_id;
  {
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER alert_events_append_only_delete");
    db.Query("SELECT event_id, proto FROM alert_events", {}, [&](const auto& r) {
      cit::v1::AlertEvent e;
      if (e.ParseFromString(r[1]) && e.type() == cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED) {
        ack_id = r[0];
      }
    });
    ASSERT_FALSE(ack_id.empty());
    db.Exec("DELETE FROM alert_events WHERE event_id = " + ack_id);
  }
  ExpectBroken(run_, {"BROKEN: alerts at alert event " + ack_id, "deleted"});
}

TEST_P(TamperTest, RewrittenAcknowledgingOperatorIsNamed) {
  RecordRun();
  {
    // The operator who acknowledged becomes an auditor (who may not acknowledge).
    auto store = Store();
    Db& db = *store;
    std::string proto;
    db.Query("SELECT proto FROM alerts WHERE alert_id = " + std::to_string(door_), {},
             [&](const auto& r) { proto = r[0]; });
    cit::v1::Alert a;
    ASSERT_TRUE(a.ParseFromString(proto));
    ASSERT_EQ(a.actions(0).actor(), "olga");
    a.mutable_actions(0)->set_actor("aude");
    db.Query("UPDATE alerts SET proto = ?1 WHERE alert_id = " + std::to_string(door_),
             {a.SerializeAsString()});
  }
  ExpectBroken(run_, {"alerts/" + run_, "alert " + std::to_string(door_) + " (current row)",
                      "\"olga\"", "\"aude\""});
  // The API shows the forged name; verify is what tells.
  EXPECT_EQ(Ctl("aude", "audit report " + run_), 0);
  EXPECT_NE(out_.find("acked"), std::string::npos);
}

TEST_P(TamperTest, RewrittenDispatcherIsNamed) {
  RecordRun();
  {
    auto store = Store();
    Db& db = *store;
    std::string proto, version;
    db.Query("SELECT proto, version FROM runs WHERE run_id = '" + run_ +
                 "' ORDER BY version DESC LIMIT 1",
             {}, [&](const auto& r) {
               proto = r[0];
               version = r[1];
             });
    cit::v1::Run run;
    ASSERT_TRUE(run.ParseFromString(proto));
    run.set_dispatched_by("nobody");
    db.Query("UPDATE runs SET proto = ?1 WHERE run_id = '" + run_ + "' AND version = " + version,
             {run.SerializeAsString()});
  }
  ExpectBroken(run_, {"runs/" + run_, "run " + run_ + " version 2 (current row)", "dispatched_by",
                      "\"nobody\""});
}

TEST_P(TamperTest, DeletedRunIsStillVerifiedThroughThePlanLog) {
  RecordRun();
  {
    auto store = Store();
    Db& db = *store;
    db.Exec("DELETE FROM runs WHERE run_id = '" + run_ + "'");
  }
  ExpectBroken(run_, {"runs/" + run_, "0 version rows but the plan log has 2 versions"});
}

TEST_P(TamperTest, ReorderedAlertEventsAreNamed) {
  RecordRun();
  {
    // Swap the chain positions of the acknowledgement and the resolution.
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER alert_events_append_only_update");
    // Through a free position: chain positions are unique (and positive on PostgreSQL).
    std::string top;
    db.Query("SELECT MAX(chain_index) FROM alert_events", {}, [&](const auto& r) { top = r[0]; });
    const uint64_t m = std::stoull(top);
    const auto move = [&](uint64_t from, uint64_t to) {
      db.Exec("UPDATE alert_events SET chain_index = " + std::to_string(to) +
              " WHERE chain_index = " + std::to_string(from));
    };
    move(m, m + 1);
    move(m - 1, m);
    move(m + 1, m - 1);
  }
  ExpectBroken(run_, {"BROKEN: alerts at alert event", "hash mismatch"});
}

TEST_P(TamperTest, CutTailAfterTheCheckpointSaysWhichRecordsAreMissing) {
  RecordRun();
  {
    // Cut the records after seq 30 and make the head row agree, as a careful attacker would.
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER records_append_only_delete");
    db.Exec("DELETE FROM records WHERE vehicle_id = 'CIT-0001' AND chain_index > 30");
    db.Exec(
        "UPDATE vehicle_seq SET chain_index = 30, contiguous_seq = 30, head_hash = (SELECT hash "
        "FROM records WHERE vehicle_id = 'CIT-0001' AND chain_index = 30)");
  }
  ExpectBroken(run_,
               {"chain of CIT-0001 BROKEN at records after seq 30", "chain positions 31.." + Last(),
                "up to seq " + Last(), "signed checkpoint #"});
}

TEST_P(TamperTest, ForgedRecordAppendedWithACorrectHashIsNamed) {
  RecordRun();
  {
    // Append the next seq with a correctly chained hash and move the head row along.
    auto store = Store();
    Db& db = *store;
    std::string head;
    db.Query("SELECT head_hash FROM vehicle_seq WHERE vehicle_id = 'CIT-0001'", {},
             [&](const auto& r) { head = r[0]; });
    cit::v1::Record forged = sc::MakeRecords().front();  // a fix, copied
    forged.mutable_fix()->set_lat_deg(47.375);           // exactly representable in the SQL text
    forged.mutable_fix()->set_lon_deg(8.5);
    const uint64_t seq = kRecords + 1;
    forged.set_seq(seq);
    const std::string body = cit::dispatch::SerializeRecordBody(forged);
    const int64_t server_ns = 1'700'000'000'000'000'000;
    const std::string hash = *cit::dispatch::ChainStep(
        head, cit::dispatch::CanonicalRecordBytes("CIT-0001", seq, server_ns, body));
    db.Query(
        "INSERT INTO records (vehicle_id, seq, chain_index, event_time_ns, agent_time_ns, "
        "agent_monotonic_ns, agent_boot, server_time_ns, kind, lat_deg, lon_deg, body, hash) "
        "VALUES ('CIT-0001', " +
            std::to_string(seq) + ", " + std::to_string(seq) + ", " +
            std::to_string(forged.event_time().seconds() * 1'000'000'000) + ", " +
            std::to_string(forged.agent_time().seconds() * 1'000'000'000) + ", 0, 0, " +
            std::to_string(server_ns) + ", " + std::to_string(forged.payload_case()) + ", " +
            std::to_string(forged.fix().lat_deg()) + ", " + std::to_string(forged.fix().lon_deg()) +
            ", ?1, ?2)",
        {body, hash});
    db.Query("UPDATE vehicle_seq SET chain_index = " + std::to_string(seq) +
                 ", contiguous_seq = " + std::to_string(seq) + ", head_hash = ?1",
             {hash});
  }
  ExpectBroken(run_, {"chain of CIT-0001 BROKEN at record seq " + std::to_string(kRecords + 1),
                      "appeared while the server was stopped"});
}

TEST_P(TamperTest, DeletedRecordWithTheChainRecomputedIsNamedBySeq) {
  RecordRun();
  {
    // Delete seq 10, renumber and re-hash everything after it: internally consistent.
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER records_append_only_delete");
    db.Exec("DROP TRIGGER records_append_only_update");
    db.Exec("DELETE FROM records WHERE vehicle_id = 'CIT-0001' AND seq = 10");
    for (size_t i = 11; i <= kRecords; ++i) {
      db.Exec("UPDATE records SET chain_index = " + std::to_string(i - 1) +
              " WHERE vehicle_id = 'CIT-0001' AND chain_index = " + std::to_string(i));
    }
    std::string head = cit::dispatch::kChainGenesis;
    std::vector<std::vector<std::string>> rows;
    db.Query(
        "SELECT seq, server_time_ns, body, chain_index FROM records WHERE vehicle_id = "
        "'CIT-0001' ORDER BY chain_index",
        {}, [&](const auto& r) { rows.push_back(r); });
    for (const auto& r : rows) {
      head = *cit::dispatch::ChainStep(
          head, cit::dispatch::CanonicalRecordBytes("CIT-0001", std::stoull(r[0]), std::stoll(r[1]),
                                                    r[2]));
      db.Query("UPDATE records SET hash = ?1 WHERE vehicle_id = 'CIT-0001' AND seq = " + r[0],
               {head});
    }
    db.Query(
        "UPDATE vehicle_seq SET chain_index = " + std::to_string(rows.size()) + ", head_hash = ?1",
        {head});
  }
  ExpectBroken(run_,
               {"chain of CIT-0001 BROKEN at record seq 10", "recomputed", "signed checkpoint #"});
}

TEST_P(TamperTest, DeletedMiddleRecordIsNamedAtItsOwnSeq) {
  RecordRun();
  {
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER records_append_only_delete");
    db.Exec("DELETE FROM records WHERE vehicle_id = 'CIT-0001' AND seq = 10");
  }
  ExpectBroken(run_, {"chain of CIT-0001 BROKEN at record seq 10", "deleted"});
}

TEST_P(TamperTest, VehicleWhoseRecordsAllVanishedIsReportedNotUnknown) {
  RecordRun();
  {
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER records_append_only_delete");
    db.Exec("DELETE FROM records WHERE vehicle_id = 'CIT-0001'");
    db.Exec("DELETE FROM vehicle_seq WHERE vehicle_id = 'CIT-0001'");
  }
  ExpectBroken(std::string("--vehicle ") + sc::kVehicle,
               {"BROKEN at every record of CIT-0001", "chain positions 1.." + Last(),
                "every entry is gone"});
  EXPECT_EQ(err_.find("NOT_FOUND"), std::string::npos) << err_;
}

TEST_P(TamperTest, EditedLatitudeColumnIsNamed) {
  RecordRun();
  {
    // Only the column the report and exports read; the hashed body is left alone.
    auto store = Store();
    Db& db = *store;
    db.Exec("DROP TRIGGER records_append_only_update");
    db.Exec(
        "UPDATE records SET lat_deg = lat_deg + 0.01 WHERE vehicle_id = 'CIT-0001' AND seq = 9");
  }
  ExpectBroken(run_, {"chain of CIT-0001 BROKEN at record seq 9", "column lat_deg"});
}

TEST_P(TamperTest, ReplacedSigningKeyIsCaughtWithTheAuditorsPublicKey) {
  RecordRun();
  // The auditor took the public key when the server was installed, and a checkpoint.
  const auto pub = dir_ / "auditor-copy.pub.pem";
  std::filesystem::copy_file(dir_ / "dispatch.db.checkpoint-key.pub.pem", pub);
  StartServer();
  ASSERT_EQ(Ctl("aude", "audit checkpoint -o " + (dir_ / "kept.json").string() + " --public-key " +
                            pub.string()),
            0)
      << err_;
  ASSERT_EQ(Ctl("aude", "audit verify " + run_ + " --public-key " + pub.string() +
                            " --checkpoint " + (dir_ / "kept.json").string()),
            0)
      << out_ << err_;
  StopServer();
  // The attacker replaces the key (and could now re-sign whatever they recompute).
  std::filesystem::remove(dir_ / "dispatch.db.checkpoint-key.pem");
  std::filesystem::remove(dir_ / "dispatch.db.checkpoint-key.pub.pem");
  StartServer();
  EXPECT_EQ(Ctl("aude", "audit verify " + run_ + " --public-key " + pub.string()), 1) << out_;
  EXPECT_NE(out_.find("does not verify with your public key"), std::string::npos) << out_;
  // Without the auditor's copy the server itself still sees the old signatures fail.
  EXPECT_EQ(Ctl("aude", "audit verify " + run_), 1) << out_;
  EXPECT_NE(out_.find("signature does not verify with the server's key"), std::string::npos)
      << out_;
}

TEST_P(TamperTest, PlanShowNamesTheCreatorAndEveryLaterChange) {
  RecordRun();
  StartServer();
  ASSERT_EQ(Ctl("aude", "plan show " + run_), 0) << err_;
  for (const char* e :
       {"CREATE v1 by dora", "DISPATCH v1 by dora", "UPDATE v2 by dora \"Bahnhofstrasse closed\"",
        "corridor_half_width_m", "ABORT v2 by dora \"vehicle recalled\""}) {
    EXPECT_NE(out_.find(e), std::string::npos) << e << " in:\n" << out_;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TamperTest,
                         ::testing::Values(std::string("sqlite"), std::string("postgresql")),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace cit::ctl
