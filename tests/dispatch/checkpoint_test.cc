// Signed checkpoints (issue 12 §4, §6): the Ed25519 key, the [audit] config, the checkpoint log
// (signed, linked, append-only, nothing written when signing fails), the server refusing to start
// with an unusable configured key, and alert events of an older database chained at upgrade.
// Several instances on one PostgreSQL database (issue 15 §3): one checkpoint chain for all, what
// one instance stored while another was stopped verifies on both, what was stored while none ran
// is reported, a changed checkpoint row is reported, and the table is append-only.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>

#include "dispatch-server/audit/audit_config.h"
#include "dispatch-server/audit/audit_trail.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/store/alert_event_chain.h"
#include "dispatch-server/store/plan_version_chain.h"
#include "dispatch-server/store/record_hash.h"
#include "dispatch-server/store/sqlite_alert_store.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "tests/dispatch/store_backends.h"
#include "tests/dispatch/stored_fix.h"
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

class FleetCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = db_.OpenRecordStore();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    for (const char* name : {"a", "b"}) {
      std::filesystem::create_directories(db_.dir() / name);
      ASSERT_TRUE(LoadSigningKey({}, Path(name)).ok());  // generated, as at a first start
    }
  }
  std::filesystem::path Path(const std::string& name) const {
    return db_.dir() / name / "dispatch.db";
  }

  // Instance `name` as the server assembles its audit trail: its own key file beside its own
  // [store] path, the checkpoints in the shared database, the other instance's public key in
  // [audit] instance_keys unless `trust_other` is false. No interval checkpoint in a test.
  std::unique_ptr<AuditTrail> Instance(const std::string& name, bool trust_other = true) {
    const std::filesystem::path dir = db_.dir() / name;
    AuditOptions o;
    o.checkpoint_interval = std::chrono::hours(1);
    if (trust_other) {
      const std::string other = name == "a" ? "b" : "a";
      o.instance_keys.push_back(db_.dir() / other / "dispatch.db.checkpoint-key.pub.pem");
    }
    auto trail = AuditTrail::Open(o, dir / "dispatch.db", db_.conninfo(), name);
    EXPECT_TRUE(trail.ok()) << trail.status();
    return trail.ok() ? *std::move(trail) : nullptr;
  }
  std::unique_ptr<AuditTrail> Started(const std::string& name) {
    std::unique_ptr<AuditTrail> t = Instance(name);
    if (t != nullptr) {
      EXPECT_TRUE(t->Start().ok());
    }
    return t;
  }
  void StoreSeqs(uint64_t first, uint64_t last) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      AppendBatch batch;
      batch.records.push_back(test_records::Fix("CIT-1", seq));
      ASSERT_TRUE(store_->Append(batch).ok());
    }
  }
  static cit::v1::VerifyChainResponse Verify(AuditTrail& t) {
    auto v = t.ledger()->Verify("CIT-1", "", nullptr);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : cit::v1::VerifyChainResponse();
  }

  test::BackendDb db_{"postgresql"};
  std::unique_ptr<Store> store_;
};

TEST_F(FleetCheckpointTest, RecordsStoredWhileOneInstanceWasStoppedVerifyOnEveryInstance) {
  auto a = Started("a");
  auto b = Started("b");
  ASSERT_TRUE(a && b);
  StoreSeqs(1, 5);
  ASSERT_TRUE(a->Stop().ok());
  a.reset();
  StoreSeqs(6, 10);  // B is running: it vouches for these
  a = Started("a");
  ASSERT_TRUE(a);
  for (AuditTrail* t : {a.get(), b.get()}) {
    const cit::v1::VerifyChainResponse v = Verify(*t);
    EXPECT_TRUE(v.intact()) << v.problem();
    EXPECT_EQ(v.records_checked(), 10u);
    EXPECT_TRUE(v.checkpoints_signed());
  }
  // One chain: both instances' checkpoints, each naming its instance, linked in order.
  auto list = b->ledger()->ListCheckpoints(0, 100);
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> seen;
  for (const auto& c : list->checkpoints()) {
    seen.push_back(c.checkpoint().instance() + "/" + c.checkpoint().reason());
    EXPECT_FALSE(c.public_key_pem().empty());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a/startup", "b/startup", "a/shutdown", "a/startup"}));
  EXPECT_NE(list->checkpoints(0).checkpoint().key_id(), list->checkpoints(1).checkpoint().key_id());
  // A key stored beside the checkpoints is not trusted: without B's public key configured, an
  // instance reports B's checkpoints (whoever can write the table could have stored any key).
  auto untrusting = Instance("a", /*trust_other=*/false);
  ASSERT_TRUE(untrusting);
  const cit::v1::VerifyChainResponse v = Verify(*untrusting);
  EXPECT_FALSE(v.intact());
  EXPECT_NE(v.problem().find("[audit] instance_keys"), std::string::npos) << v.problem();
  ASSERT_TRUE(a->Stop().ok());
  ASSERT_TRUE(b->Stop().ok());
}

TEST_F(FleetCheckpointTest, RecordsStoredWhileNoInstanceRanAreReported) {
  auto a = Started("a");
  auto b = Started("b");
  ASSERT_TRUE(a && b);
  StoreSeqs(1, 3);
  ASSERT_TRUE(a->Stop().ok());
  ASSERT_TRUE(b->Stop().ok());
  a.reset();
  b.reset();
  StoreSeqs(4, 6);  // the whole fleet is stopped
  b = Started("b");
  ASSERT_TRUE(b);
  const cit::v1::VerifyChainResponse v = Verify(*b);
  EXPECT_FALSE(v.intact());
  EXPECT_EQ(v.first_bad_seq(), 4u);
  EXPECT_NE(v.problem().find("appeared while the server was stopped"), std::string::npos)
      << v.problem();
  EXPECT_NE(v.problem().find("no instance running"), std::string::npos) << v.problem();
  ASSERT_TRUE(b->Stop().ok());
}

TEST_F(FleetCheckpointTest, AForgedStartupOfAnotherInstanceDoesNotHideWhatNoInstanceStored) {
  auto a = Started("a");
  auto b = Started("b");
  ASSERT_TRUE(a && b);
  StoreSeqs(1, 3);
  ASSERT_TRUE(a->Stop().ok());
  ASSERT_TRUE(b->Stop().ok());
  // The attacker, with the fleet stopped: a "startup" of B appended to the chain (correctly
  // linked, B's key id, but a signature they cannot make), then records.
  auto newest = b->ledger()->GetCheckpoint(0);
  ASSERT_TRUE(newest.ok()) << newest.status();
  cit::v1::Checkpoint forged;
  forged.set_checkpoint_id(newest->checkpoint().checkpoint_id() + 1);
  forged.set_reason("startup");
  forged.set_instance("b");
  forged.set_key_id(newest->checkpoint().key_id());  // B wrote the shutdown
  std::string sha(32, '\0');
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(newest->body().data(), newest->body().size(),
                       reinterpret_cast<unsigned char*>(sha.data()), &len, EVP_sha256(), nullptr),
            1);
  forged.set_prev_body_sha256(sha);
  ASSERT_TRUE(db_.Exec("INSERT INTO checkpoints VALUES (" + std::to_string(forged.checkpoint_id()) +
                       ", 'b', 0, 'startup', 'x', '', decode('" +
                       HexHash(SerializeDeterministic(forged)) +
                       "', 'hex'), decode(repeat('00', 64), 'hex'))")
                  .ok());
  a.reset();
  b.reset();
  StoreSeqs(4, 6);
  a = Started("a");  // links to the forged row
  ASSERT_TRUE(a);
  const cit::v1::VerifyChainResponse v = Verify(*a);
  EXPECT_FALSE(v.intact());
  EXPECT_FALSE(v.checkpoints_signed());
  bool records_reported = false;
  for (const auto& c : v.chains()) {
    if (c.chain() == "records/CIT-1") {
      records_reported = !c.intact() && c.problem().find("appeared while the server was stopped") !=
                                            std::string::npos;
    }
  }
  EXPECT_TRUE(records_reported) << v.DebugString();
  ASSERT_TRUE(a->Stop().ok());
}

TEST_F(FleetCheckpointTest, AChangedCheckpointRowOfAnotherInstanceIsReported) {
  auto a = Started("a");
  auto b = Started("b");
  ASSERT_TRUE(a && b);
  StoreSeqs(1, 3);
  ASSERT_TRUE(b->log().Append("interval", std::chrono::system_clock::now()).ok());
  EXPECT_TRUE(Verify(*a).intact());
  // B's newest checkpoint (after A's newest: proven by its own signature only), re-signed by
  // nobody: its length claim changed.
  ASSERT_TRUE(db_.Exec("ALTER TABLE checkpoints DISABLE TRIGGER USER; "
                       "UPDATE checkpoints SET signature = decode(repeat('00', 64), 'hex') "
                       "WHERE checkpoint_id = 3; "
                       "ALTER TABLE checkpoints ENABLE TRIGGER USER")
                  .ok());
  const cit::v1::VerifyChainResponse v = Verify(*a);
  EXPECT_FALSE(v.intact());
  EXPECT_FALSE(v.checkpoints_signed());
  EXPECT_NE(v.problem().find("checkpoint #3"), std::string::npos) << v.problem();
  EXPECT_NE(v.problem().find("instance \"b\""), std::string::npos) << v.problem();
  // A body changed before A's newest checkpoint breaks the link A's signature proves.
  ASSERT_TRUE(a->log().Append("interval", std::chrono::system_clock::now()).ok());
  ASSERT_TRUE(db_.Exec("ALTER TABLE checkpoints DISABLE TRIGGER USER; "
                       "UPDATE checkpoints SET body = (SELECT body FROM checkpoints WHERE "
                       "checkpoint_id = 1) WHERE checkpoint_id = 2; "
                       "ALTER TABLE checkpoints ENABLE TRIGGER USER")
                  .ok());
  const cit::v1::VerifyChainResponse linked = Verify(*b);
  EXPECT_FALSE(linked.intact());
  EXPECT_EQ(linked.problem().rfind("checkpoints: ", 0), 0u) << linked.problem();
}

TEST_F(FleetCheckpointTest, CheckpointsAndIdentityEventsAreAppendOnly) {
  auto a = Started("a");
  ASSERT_TRUE(a);
  EXPECT_FALSE(db_.Exec("UPDATE checkpoints SET reason = 'x'").ok());
  EXPECT_FALSE(db_.Exec("DELETE FROM checkpoints").ok());
  EXPECT_FALSE(db_.Exec("TRUNCATE checkpoints").ok());
  EXPECT_FALSE(db_.Exec("TRUNCATE identity_events").ok());
  test::BackendDb::ExpectRefusedAs(
      db_.ServerRoleConninfo(),
      {"UPDATE checkpoints SET reason = 'x'", "DELETE FROM checkpoints",
       "UPDATE identity_events SET role = 'admin'", "DELETE FROM identity_events"});
  ASSERT_TRUE(a->Stop().ok());
}

}  // namespace
}  // namespace cit::dispatch
