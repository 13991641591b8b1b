// Signed checkpoints (issue 12 §4, §6): the Ed25519 key, the [audit] config, the checkpoint log
// (signed, linked, append-only, nothing written when signing fails), the server refusing to start
// with an unusable configured key, and alert events of an older database chained at upgrade.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>

#include "dispatch-server/audit/audit_config.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/store/alert_event_chain.h"
#include "dispatch-server/store/plan_version_chain.h"
#include "dispatch-server/store/record_hash.h"
#include "dispatch-server/store/sqlite_alert_store.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

TEST(CheckpointKeyTest, SignsAndVerifiesWithThePublicHalfOnly) {
  auto key = CheckpointKey::Generate();
  ASSERT_TRUE(key.ok()) << key.status();
  auto sig = key->Sign("body");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->size(), 64u);
  auto pub = CheckpointKey::LoadPublicPem(key->PublicPem());
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_FALSE(pub->has_private());
  EXPECT_EQ(pub->KeyId(), key->KeyId());
  EXPECT_EQ(pub->KeyId().size(), 64u);
  EXPECT_TRUE(pub->Verify("body", *sig));
  EXPECT_FALSE(pub->Verify("bodY", *sig));
  EXPECT_FALSE(pub->Sign("x").ok());
  auto other = CheckpointKey::Generate();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Verify("body", *sig));
}

TEST(AuditConfigTest, UnknownKeyAndBadIntervalAreRefused) {
  auto bad = AuditOptionsFromConfig(toml::parse("[audit]\nsigning_kee = \"k.pem\"\n"), {});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("audit.signing_kee"), std::string::npos);
  auto interval = AuditOptionsFromConfig(toml::parse("[audit]\ncheckpoint_interval_s = 0\n"), {});
  EXPECT_EQ(interval.status().code(), absl::StatusCode::kInvalidArgument);
  auto ok = AuditOptionsFromConfig(
      toml::parse("[audit]\nsigning_key = \"k.pem\"\ncheckpoint_interval_s = 2.5\n"),
      "/etc/citwatch/dispatch-server.toml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->signing_key, "/etc/citwatch/k.pem");
  EXPECT_EQ(ok->checkpoint_interval, std::chrono::milliseconds(2500));
}

TEST(AuditConfigTest, UnreadableOrWrongConfiguredKeyIsAnErrorNamingTheFile) {
  cit::test::TempDir dir;
  AuditOptions o;
  o.signing_key = dir / "missing.pem";
  auto missing = LoadSigningKey(o, dir / "dispatch.db");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("audit.signing_key"), std::string::npos);
  EXPECT_NE(missing.status().message().find("missing.pem"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(DefaultSigningKeyPath(dir / "dispatch.db")))
      << "a configured key is never replaced by a generated one";
  std::ofstream(dir / "junk.pem")
      << "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  o.signing_key = dir / "junk.pem";
  auto junk = LoadSigningKey(o, dir / "dispatch.db");
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument) << junk.status();
  EXPECT_NE(junk.status().message().find("junk.pem"), std::string::npos);
}

TEST(AuditConfigTest, WithoutAConfiguredKeyOneIsGeneratedBesideTheDatabaseAndKept) {
  cit::test::TempDir dir;
  auto first = LoadSigningKey({}, dir / "dispatch.db");
  ASSERT_TRUE(first.ok()) << first.status();
  const auto path = DefaultSigningKeyPath(dir / "dispatch.db");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::exists(dir / "dispatch.db.checkpoint-key.pub.pem"));
  auto again = LoadSigningKey({}, dir / "dispatch.db");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->KeyId(), first->KeyId());
}

class CheckpointLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto runs = SqliteRunStore::Open(db_);  // the plan log's table
    ASSERT_TRUE(runs.ok()) << runs.status();
    auto key = CheckpointKey::Generate();
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<CheckpointKey>(*key);
    auto log = CheckpointLog::Open(db_, *key);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }
  std::vector<cit::v1::SignedCheckpoint> All() {
    auto db = sqlite::Database::Open(db_);
    EXPECT_TRUE(db.ok());
    auto all = ReadCheckpoints(**db, 0, 100);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<cit::v1::SignedCheckpoint>();
  }

  cit::test::TempDir dir_;
  std::filesystem::path db_ = dir_ / "dispatch.db";
  std::unique_ptr<CheckpointKey> key_;
  std::unique_ptr<CheckpointLog> log_;
};

TEST_F(CheckpointLogTest, CheckpointsAreSignedLinkedAndOnlyWrittenWhenAHeadChanged) {
  auto first = log_->Append("startup", std::chrono::system_clock::now());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->checkpoint().checkpoint_id(), 1u);
  ASSERT_EQ(first->checkpoint().heads_size(), 1);  // the (empty) plan log
  EXPECT_EQ(first->checkpoint().heads(0).chain(), "plans");
  EXPECT_TRUE(key_->Verify(first->body(), first->signature()));
  // Nothing changed: an interval checkpoint is skipped, a shutdown one is always written.
  auto skipped = log_->Append("interval", std::chrono::system_clock::now(), /*always=*/false);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->checkpoint().checkpoint_id(), 0u);
  auto last = log_->Append("shutdown", std::chrono::system_clock::now());
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->checkpoint().checkpoint_id(), 2u);
  EXPECT_EQ(last->checkpoint().heads_size(), 0);
  auto all = All();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].checkpoint().prev_body_sha256().size(), 32u);
  EXPECT_NE(all[1].checkpoint().prev_body_sha256(), std::string(32, '\0'));
  // Append-only at the database level.
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &h), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(h, "DELETE FROM checkpoints", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(h, "UPDATE checkpoints SET reason = 'x'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(h);
}

TEST_F(CheckpointLogTest, FailedSigningWritesNoCheckpoint) {
  FailCheckpointSigningForTesting(true);
  auto failed = log_->Append("startup", std::chrono::system_clock::now());
  FailCheckpointSigningForTesting(false);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal) << failed.status();
  EXPECT_TRUE(All().empty());
  ASSERT_TRUE(log_->Append("startup", std::chrono::system_clock::now()).ok());
  EXPECT_EQ(All().size(), 1u);
}

TEST(ChainHashFailureTest, FailedHashStoresNoPlanEventAndNoAlertEvent) {
  // Issue 12 §6: when OpenSSL fails, the change fails and is reported; no placeholder hash.
  cit::test::TempDir dir;
  auto runs = SqliteRunStore::Open(dir / "dispatch.db");
  auto alerts = SqliteAlertStore::Open(dir / "dispatch.db");
  ASSERT_TRUE(runs.ok() && alerts.ok());
  cit::v1::Run run;
  run.mutable_plan()->set_run_id("R-1");
  run.mutable_plan()->set_vehicle_id("truck-7");
  run.set_version(1);
  cit::v1::AlertEvent event;
  event.set_event_id(1);
  event.mutable_alert()->set_alert_id(1);
  FailChainStepsForTesting(true);
  const absl::Status saved = (*runs)->Save(run, cit::v1::PlanEvent());
  const absl::Status appended = (*alerts)->Append(std::span<const cit::v1::AlertEvent>(&event, 1));
  FailChainStepsForTesting(false);
  EXPECT_EQ(saved.code(), absl::StatusCode::kInternal) << saved;
  EXPECT_EQ(appended.code(), absl::StatusCode::kInternal) << appended;
  EXPECT_TRUE((*runs)->LoadLatest()->empty()) << "the run row rolls back with its log entry";
  EXPECT_TRUE((*runs)->History("R-1")->empty());
  EXPECT_TRUE((*alerts)->EventsAfter(0, 10)->empty());
  // Once hashing works the same changes go in, chained from h_0.
  ASSERT_TRUE((*runs)->Save(run, cit::v1::PlanEvent()).ok());
  ASSERT_TRUE((*alerts)->Append(std::span<const cit::v1::AlertEvent>(&event, 1)).ok());
  auto db = sqlite::Database::Open(dir / "dispatch.db");
  ASSERT_TRUE(db.ok());
  EXPECT_TRUE(VerifyPlanChain(**db, {})->intact);
  EXPECT_TRUE(VerifyAlertChain(**db, {})->intact);
}

TEST(ServerStartTest, UnreadableConfiguredSigningKeyStopsTheServerWithAClearError) {
  cit::test::TempDir dir;
  std::ofstream(dir / "server.toml") << "[metrics]\nlisten = \"\"\n[http]\nlisten = \"\"\n"
                                     << "[audit]\nsigning_key = \"no-such-key.pem\"\n";
  cit::test::Process server({cit::test::BuiltProgram("dispatch-server/dispatch-server").string(),
                             "--config", (dir / "server.toml").string(), "--insecure-dev",
                             "--database", (dir / "dispatch.db").string(), "--telemetry-listen",
                             "127.0.0.1:0", "--operator-listen", "127.0.0.1:0"},
                            dir / "server.log");
  EXPECT_EQ(server.WaitExit(std::chrono::seconds(20)), 1);
  const std::string log = cit::test::ReadFile(dir / "server.log");
  EXPECT_NE(log.find("audit.signing_key"), std::string::npos) << log;
  EXPECT_NE(log.find("no-such-key.pem"), std::string::npos) << log;
}

TEST(AlertChainUpgradeTest, EventsOfAnOlderDatabaseAreChainedOnceAndThenAppendOnly) {
  cit::test::TempDir dir;
  const auto db_path = dir / "dispatch.db";
  {
    // The alert schema as it was before the chain (versions 1 and 2), with two events.
    auto db = sqlite::Database::Open(db_path);
    ASSERT_TRUE(db.ok());
    static const sqlite::Migration kOld[] = {
        {1, "alerts and alert events",
         "CREATE TABLE alerts (alert_id INTEGER PRIMARY KEY, vehicle_id TEXT NOT NULL, run_id "
         "TEXT NOT NULL, kind INTEGER NOT NULL, subject TEXT NOT NULL, state INTEGER NOT NULL, "
         "severity INTEGER NOT NULL, event_time_ns INTEGER NOT NULL, proto BLOB NOT NULL);"
         "CREATE TABLE alert_events (event_id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, "
         "proto BLOB NOT NULL);"},
        {2, "alert and event id reservations",
         "CREATE TABLE alert_id_reservation (singleton INTEGER PRIMARY KEY CHECK (singleton = "
         "1), alert_id_through INTEGER NOT NULL, event_id_through INTEGER NOT NULL);"}};
    ASSERT_TRUE(sqlite::ApplyMigrations(**db, "alerts", kOld).ok());
    for (int id : {1, 2}) {
      cit::v1::AlertEvent e;
      e.set_event_id(id);
      e.mutable_alert()->set_alert_id(1);
      auto ins = (*db)->Prepare(
          "INSERT INTO alert_events (event_id, alert_id, proto) "
          "VALUES (?1, 1, ?2)");
      ASSERT_TRUE(ins.ok());
      ins->Bind(1, id).Bind(2, sqlite::Blob(e.SerializeAsString()));
      ASSERT_TRUE(ins->Run().ok());
    }
  }
  auto store = SqliteAlertStore::Open(db_path);
  ASSERT_TRUE(store.ok()) << store.status();
  cit::v1::AlertEvent next;
  next.set_event_id(3);
  next.mutable_alert()->set_alert_id(1);
  ASSERT_TRUE((*store)->Append(std::span<const cit::v1::AlertEvent>(&next, 1)).ok());
  store->reset();
  auto again = SqliteAlertStore::Open(db_path);  // a second start changes nothing
  ASSERT_TRUE(again.ok()) << again.status();
  auto db = sqlite::Database::Open(db_path);
  ASSERT_TRUE(db.ok());
  auto report = VerifyAlertChain(**db, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->intact) << report->first_bad << ": " << report->problem;
  EXPECT_EQ(report->length, 3u);
  EXPECT_FALSE((*db)->Exec("DELETE FROM alert_events WHERE event_id = 2").ok());
}

}  // namespace
}  // namespace cit::dispatch
