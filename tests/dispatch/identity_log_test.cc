// The identity log (issue 12 §3, token/role changes): change detection between the recorded
// state and the token file (added, removed, role changed, token rotated, no change), the
// append-only hash chain in a real SQLite file (triggers, recomputed chain, columns checked
// against the hashed body), nothing stored when hashing fails, and the identity head in every
// signed checkpoint. On PostgreSQL (issue 15 §3) one log for every instance: a change recorded
// by one instance is not recorded again by another reading the same file, every instance lists
// and verifies the same log.
#include "dispatch-server/audit/identity_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "dispatch-server/audit/audit_trail.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/auth/identity_diff.h"
#include "dispatch-server/store/identity_chain.h"
#include "dispatch-server/store/record_hash.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using K = IdentityDiff::Kind;

TokenFile::Entry Entry(const std::string& name, Role role, const std::string& token) {
  return TokenFile::Entry{OperatorIdentity{name, role}, TokenSha256(token)};
}

RecordedIdentity Recorded(const std::string& role, const std::string& token) {
  return RecordedIdentity{role, TokenFingerprint(TokenSha256(token))};
}

TEST(IdentityDiffTest, FingerprintTellsTokensApartAndIsNotTheHash) {
  const std::string a = TokenFingerprint(TokenSha256("cit_a"));
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, TokenFingerprint(TokenSha256("cit_b")));
  EXPECT_EQ(a, TokenFingerprint(TokenSha256("cit_a")));
  EXPECT_EQ(TokenHashHex("cit_a").find(a), std::string::npos) << "the hash must not leak";
}

TEST(IdentityDiffTest, FirstStartRecordsEveryOperatorAsAdded) {
  auto d = DiffIdentities(
      {}, {Entry("olga", Role::kOperator, "t1"), Entry("aude", Role::kAuditor, "t2")});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].kind, K::kAdded);
  EXPECT_EQ(d[0].name, "aude");  // name order
  EXPECT_EQ(d[0].role, "auditor");
  EXPECT_EQ(d[0].fingerprint, TokenFingerprint(TokenSha256("t2")));
  EXPECT_EQ(d[1].name, "olga");
  EXPECT_EQ(d[1].role, "operator");
}

TEST(IdentityDiffTest, UnchangedFileGivesNoChange) {
  EXPECT_TRUE(
      DiffIdentities({{"olga", Recorded("operator", "t1")}}, {Entry("olga", Role::kOperator, "t1")})
          .empty());
  EXPECT_TRUE(DiffIdentities({}, {}).empty());
}

TEST(IdentityDiffTest, RemovedOperatorKeepsItsLastRoleAndToken) {
  auto d = DiffIdentities({{"olga", Recorded("operator", "t1")}, {"piet", Recorded("admin", "t3")}},
                          {Entry("olga", Role::kOperator, "t1")});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, K::kRemoved);
  EXPECT_EQ(d[0].name, "piet");
  EXPECT_EQ(d[0].role, "admin");
  EXPECT_EQ(d[0].fingerprint, TokenFingerprint(TokenSha256("t3")));
}

TEST(IdentityDiffTest, RoleChangeNamesBothRoles) {
  auto d =
      DiffIdentities({{"olga", Recorded("auditor", "t1")}}, {Entry("olga", Role::kOperator, "t1")});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, K::kRoleChanged);
  EXPECT_EQ(d[0].previous_role, "auditor");
  EXPECT_EQ(d[0].role, "operator");
}

TEST(IdentityDiffTest, RotationNamesBothFingerprints) {
  auto d = DiffIdentities({{"olga", Recorded("operator", "t1")}},
                          {Entry("olga", Role::kOperator, "t1-new")});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, K::kTokenRotated);
  EXPECT_EQ(d[0].previous_fingerprint, TokenFingerprint(TokenSha256("t1")));
  EXPECT_EQ(d[0].fingerprint, TokenFingerprint(TokenSha256("t1-new")));
}

TEST(IdentityDiffTest, RoleChangeWithANewTokenIsTwoChangesThatReplayToTheFile) {
  auto d = DiffIdentities({{"olga", Recorded("auditor", "t1")}},
                          {Entry("olga", Role::kAdmin, "t9"), Entry("zed", Role::kOperator, "t8")});
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].kind, K::kRoleChanged);
  EXPECT_EQ(d[1].kind, K::kTokenRotated);
  EXPECT_EQ(d[2].kind, K::kAdded);
  EXPECT_EQ(d[2].name, "zed");
}

class IdentityLogTest : public ::testing::Test {
 protected:
  void WriteTokens(const std::string& text) { std::ofstream(tokens_) << text; }
  static std::string Token(const std::string& name, const std::string& role,
                           const std::string& token) {
    return "[[token]]\nname = \"" + name + "\"\nrole = \"" + role + "\"\nsha256 = \"" +
           TokenHashHex(token) + "\"\n";
  }
  std::vector<cit::v1::IdentityEvent> Record() {
    auto log = IdentityLog::Open(db_);
    EXPECT_TRUE(log.ok()) << log.status();
    auto file = LoadTokenFileForLog(tokens_);
    EXPECT_TRUE(file.ok()) << file.status();
    auto added = (*log)->Record(*file, FromUnixSeconds(1'800'000'000 + ++starts_));
    EXPECT_TRUE(added.ok()) << added.status();
    return added.ok() ? *added : std::vector<cit::v1::IdentityEvent>();
  }
  std::vector<cit::v1::IdentityEvent> All() {
    auto db = sqlite::Database::Open(db_);
    auto all = ReadIdentityEvents(**db, 0, 1000, "");
    EXPECT_TRUE(all.ok()) << all.status();
    return *all;
  }
  ChainReport Verify(std::vector<ChainAnchor> anchors = {}) {
    auto db = sqlite::Database::Open(db_);
    auto r = VerifyIdentityChain(**db, std::move(anchors));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }
  void Exec(const std::string& sql, bool expect_ok = true) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &h), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK, expect_ok)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(h);
  }

  cit::test::TempDir dir_;
  std::filesystem::path db_ = dir_ / "dispatch.db";
  std::filesystem::path tokens_ = dir_ / "tokens.toml";
  int starts_ = 0;
};

TEST_F(IdentityLogTest, StartUpsRecordTheInitialSetThenOnlyChanges) {
  WriteTokens(Token("olga", "operator", "t1") + Token("aude", "auditor", "t2"));
  auto first = Record();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].index(), 1u);
  EXPECT_EQ(first[0].change(), cit::v1::IDENTITY_CHANGE_ADDED);
  EXPECT_EQ(first[0].actor(), "dispatch-server");
  EXPECT_EQ(first[0].token_file(), tokens_.string());
  EXPECT_EQ(first[0].token_file_sha256(), TokenHashHex(cit::test::ReadFile(tokens_)));
  EXPECT_TRUE(Record().empty()) << "an unchanged file appends nothing";
  // olga becomes an auditor, aude gets a new token, piet arrives.
  WriteTokens(Token("olga", "auditor", "t1") + Token("aude", "auditor", "t2b") +
              Token("piet", "dispatcher", "t3"));
  auto changed = Record();
  ASSERT_EQ(changed.size(), 3u);
  EXPECT_EQ(changed[0].change(), cit::v1::IDENTITY_CHANGE_TOKEN_ROTATED);
  EXPECT_EQ(changed[0].name(), "aude");
  EXPECT_EQ(changed[1].change(), cit::v1::IDENTITY_CHANGE_ROLE_CHANGED);
  EXPECT_EQ(changed[1].previous_role(), "operator");
  EXPECT_EQ(changed[2].change(), cit::v1::IDENTITY_CHANGE_ADDED);
  EXPECT_EQ(changed[2].index(), 5u);
  WriteTokens(Token("piet", "dispatcher", "t3"));
  auto removed = Record();
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].change(), cit::v1::IDENTITY_CHANGE_REMOVED);
  EXPECT_EQ(removed[1].role(), "auditor");
  EXPECT_EQ(All().size(), 7u);
  auto state = ReplayIdentities(All());
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state.begin()->first, "piet");
  const ChainReport r = Verify();
  EXPECT_TRUE(r.intact) << r.first_bad << ": " << r.problem;
  EXPECT_EQ(r.length, 7u);
  // No tokens configured at all: everyone is removed.
  auto log = IdentityLog::Open(db_);
  auto none = LoadTokenFileForLog({});
  ASSERT_TRUE(none.ok());
  auto gone = (*log)->Record(*none, FromUnixSeconds(1'900'000'000));
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ(gone->front().token_file(), "");
}

TEST_F(IdentityLogTest, EntriesNeverHoldTheTokenOrItsHash) {
  WriteTokens(Token("olga", "operator", "cit_secret_token"));
  ASSERT_EQ(Record().size(), 1u);
  // The database and its write-ahead log, byte for byte.
  std::string file = cit::test::ReadFile(db_);
  const std::filesystem::path wal = db_.string() + "-wal";
  if (std::filesystem::exists(wal)) file += cit::test::ReadFile(wal);
  ASSERT_NE(file.find("olga"), std::string::npos) << "the scan must see the entry";
  EXPECT_EQ(file.find("cit_secret_token"), std::string::npos);
  EXPECT_EQ(file.find(TokenHashHex("cit_secret_token")), std::string::npos);
  const auto digest = TokenSha256("cit_secret_token");
  EXPECT_EQ(file.find(std::string(digest.begin(), digest.end())), std::string::npos);
}

TEST_F(IdentityLogTest, UpdateAndDeleteAreRefusedByTheDatabase) {
  WriteTokens(Token("olga", "operator", "t1"));
  Record();
  Exec("UPDATE identity_events SET role = 'admin'", false);
  Exec("DELETE FROM identity_events", false);
  EXPECT_TRUE(Verify().intact);
}

TEST_F(IdentityLogTest, FailedHashStoresNothingAndIsReported) {
  WriteTokens(Token("olga", "operator", "t1") + Token("aude", "auditor", "t2"));
  auto log = IdentityLog::Open(db_);
  auto file = LoadTokenFileForLog(tokens_);
  ASSERT_TRUE(log.ok() && file.ok());
  FailChainStepsForTesting(true);
  auto failed = (*log)->Record(*file, FromUnixSeconds(1'800'000'000));
  FailChainStepsForTesting(false);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal) << failed.status();
  EXPECT_NE(failed.status().message().find("this token/role change was not recorded"),
            std::string::npos);
  EXPECT_TRUE(All().empty()) << "no entry with a placeholder hash, none half-written";
  EXPECT_EQ(Record().size(), 2u);
}

TEST_F(IdentityLogTest, EditedRoleColumnIsNamed) {
  WriteTokens(Token("olga", "auditor", "t1") + Token("zed", "operator", "t2"));
  Record();
  Exec("DROP TRIGGER identity_events_append_only_update");
  // Only the column (what a quick look at the table shows).
  Exec("UPDATE identity_events SET role = 'operator' WHERE name = 'olga'");
  ChainReport r = Verify();
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.first_bad_index, 1u);
  EXPECT_NE(r.problem.find("column role (column \"operator\", body \"auditor\")"),
            std::string::npos)
      << r.problem;
}

TEST_F(IdentityLogTest, RecomputedChainMatchesItselfButNotTheSignedCheckpoint) {
  WriteTokens(Token("olga", "auditor", "t1") + Token("zed", "operator", "t2"));
  Record();
  const ChainReport before = Verify();
  ChainAnchor anchor{7, before.length, before.head};
  // Rewrite olga as an operator with a correctly recomputed chain.
  Exec("DROP TRIGGER identity_events_append_only_update");
  auto db = sqlite::Database::Open(db_);
  ASSERT_TRUE(db.ok());
  std::vector<cit::v1::IdentityEvent> all = All();
  all[0].set_role("operator");
  std::string head = kChainGenesis;
  for (const auto& e : all) {
    const std::string body = SerializeDeterministic(e);
    head = *ChainStep(head, CanonicalEntryBytes("citwatch.identity.v1", e.index(), 0, body));
    auto q = (*db)->Prepare(
        "UPDATE identity_events SET role = ?1, body = ?2, hash = ?3 "
        "WHERE idx = ?4");
    q->Bind(1, e.role()).Bind(2, sqlite::Blob(body)).Bind(3, sqlite::Blob(head)).Bind(4, e.index());
    ASSERT_TRUE(q->Run().ok());
  }
  EXPECT_TRUE(Verify().intact) << "internally consistent: only a checkpoint can tell";
  const ChainReport r = Verify({anchor});
  EXPECT_FALSE(r.intact);
  EXPECT_NE(r.problem.find("signed checkpoint #7"), std::string::npos) << r.problem;
  EXPECT_EQ(r.first_bad_index, 1u);
}

TEST_F(IdentityLogTest, EveryCheckpointListsTheIdentityHead) {
  WriteTokens(Token("olga", "operator", "t1"));
  auto log = IdentityLog::Open(db_);  // creates the table, as the server does before start-up
  ASSERT_TRUE(log.ok());
  auto key = CheckpointKey::Generate();
  ASSERT_TRUE(key.ok());
  auto cp = CheckpointLog::Open(db_, *key);
  ASSERT_TRUE(cp.ok()) << cp.status();
  auto startup = (*cp)->Append("startup", std::chrono::system_clock::now());
  ASSERT_TRUE(startup.ok()) << startup.status();
  auto find = [](const cit::v1::Checkpoint& c) -> const cit::v1::ChainHead* {
    for (const auto& h : c.heads()) {
      if (h.chain() == "identities") return &h;
    }
    return nullptr;
  };
  const cit::v1::ChainHead* empty = find(startup->checkpoint());
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->length(), 0u);
  Record();
  auto after = (*cp)->Append("identities", std::chrono::system_clock::now(), false);
  ASSERT_TRUE(after.ok());
  const cit::v1::ChainHead* one = find(after->checkpoint());
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->length(), 1u);
  EXPECT_EQ(one->head(), Verify().head);
}

TEST_F(IdentityLogTest, InstancesSharingPostgresKeepOneIdentityLog) {
  test::BackendDb pg("postgresql");
  // Only A signs checkpoints here; B trusts A's key ([audit] instance_keys).
  auto trail = [&](const std::string& name) {
    std::filesystem::create_directories(pg.dir() / name);
    AuditOptions o;
    if (name == "b")
      o.instance_keys.push_back(pg.dir() / "a" / "dispatch.db.checkpoint-key.pub.pem");
    auto t = AuditTrail::Open(o, pg.dir() / name / "dispatch.db", pg.conninfo(), name);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : nullptr;
  };
  auto a = trail("a");
  auto b = trail("b");
  ASSERT_TRUE(a && b);
  auto on_a = IdentityLog::OpenPostgres(pg.conninfo());
  auto on_b = IdentityLog::OpenPostgres(pg.conninfo());
  ASSERT_TRUE(on_a.ok() && on_b.ok()) << on_a.status() << on_b.status();
  auto record = [&](IdentityLog& log) {
    auto file = LoadTokenFileForLog(tokens_);
    EXPECT_TRUE(file.ok()) << file.status();
    auto added = log.Record(
        *file, FromUnixSeconds(1'800'000'000 + ++starts_), [&](const cit::v1::IdentityEvent&) {
          return a->log().Append("identities", std::chrono::system_clock::now(), false).status();
        });
    EXPECT_TRUE(added.ok()) << added.status();
    return added.ok() ? added->size() : size_t{999};
  };
  WriteTokens(Token("olga", "operator", "t1") + Token("aude", "auditor", "t2"));
  EXPECT_EQ(record(**on_a), 2u);
  EXPECT_EQ(record(**on_b), 0u) << "B reads the same file: the shared log already says so";
  WriteTokens(Token("olga", "admin", "t1") + Token("aude", "auditor", "t2"));
  EXPECT_EQ(record(**on_b), 1u);
  for (AuditTrail* t : {a.get(), b.get()}) {
    auto events = t->ledger()->ListIdentityEvents({});
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->events_size(), 3);
    EXPECT_EQ(events->events(2).index(), 3u);
    EXPECT_EQ(events->events(2).role(), "admin");
    auto v = t->ledger()->VerifyIdentities(nullptr);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_TRUE(v->intact()) << v->problem();
  }
  // A changed entry is named on every instance.
  ASSERT_TRUE(pg.Exec("ALTER TABLE identity_events DISABLE TRIGGER USER; "
                      "UPDATE identity_events SET role = 'admin' WHERE idx = 1; "
                      "ALTER TABLE identity_events ENABLE TRIGGER USER")
                  .ok());
  auto v = b->ledger()->VerifyIdentities(nullptr);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->intact());
  EXPECT_NE(v->problem().find("identities"), std::string::npos) << v->problem();
}

}  // namespace
}  // namespace cit::dispatch
