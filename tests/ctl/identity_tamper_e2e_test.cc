// The identity log end to end (issue 12 §3, token/role changes): a live dispatch-server started
// three times with a changing token file records the initial set, a role change, a new operator
// and a token rotation; `dispatchctl audit identities` shows who had which role when, and
// `audit verify --identities` (and every `audit verify`) checks the chain against the signed
// checkpoints. Then the stopped server's file is edited with the SQLite library as an attacker
// would (triggers dropped first) and `audit verify --identities` must exit 1 naming the entry.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/auth/token_hash.h"
#include "dispatch-server/store/record_hash.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

// The attacker's tool: the SQLite library on the stopped server's file.
void Exec(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << sql << ": " << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

struct Row {
  uint64_t idx;
  std::string body;
};

std::vector<Row> Rows(const std::filesystem::path& db) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(
      sqlite3_prepare_v2(h, "SELECT idx, body FROM identity_events ORDER BY idx", -1, &st, nullptr),
      SQLITE_OK);
  std::vector<Row> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    out.push_back({static_cast<uint64_t>(sqlite3_column_int64(st, 0)),
                   std::string(static_cast<const char*>(sqlite3_column_blob(st, 1)),
                               sqlite3_column_bytes(st, 1))});
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

void Write(const std::filesystem::path& db, const std::string& sql,
           const std::vector<std::string>& blobs) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  for (size_t i = 0; i < blobs.size(); ++i) {
    sqlite3_bind_blob(st, static_cast<int>(i + 1), blobs[i].data(),
                      static_cast<int>(blobs[i].size()), SQLITE_TRANSIENT);
  }
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(h);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

class IdentityLogE2eTest : public cit::test::LiveServerTest {
 protected:
  void WriteTokens(const std::vector<std::string>& entries) {
    std::ofstream tokens(dir_ / "tokens.toml");
    for (const std::string& who : entries) {
      // "name:role:token"
      const size_t a = who.find(':');
      const size_t b = who.find(':', a + 1);
      const std::string name = who.substr(0, a);
      const std::string token = who.substr(b + 1);
      std::ofstream(dir_ / (name + ".token")) << token << "\n";
      tokens << "[[token]]\nname = \"" << name << "\"\nrole = \"" << who.substr(a + 1, b - a - 1)
             << "\"\nsha256 = \"" << cit::dispatch::TokenHashHex(token) << "\"\n";
    }
  }

  // Start-up 1 (fixture): dora, olga, aude added (entries 1..3). Start-up 2: olga becomes an
  // auditor (4), piet is added (5). Start-up 3: dora's token is rotated (6). Then stopped.
  void RecordHistory() {
    StopServer();
    WriteTokens({"dora:dispatcher:cit_e2e_dora", "olga:auditor:cit_e2e_olga",
                 "aude:auditor:cit_e2e_aude", "piet:operator:cit_e2e_piet"});
    StartServer();
    StopServer();
    WriteTokens({"dora:dispatcher:cit_e2e_dora_2", "olga:auditor:cit_e2e_olga",
                 "aude:auditor:cit_e2e_aude", "piet:operator:cit_e2e_piet"});
    StartServer();
    ASSERT_EQ(Ctl("aude", "audit verify --identities"), 0) << out_ << err_;
    ASSERT_NE(out_.find("identity log intact: 6 entries verified"), std::string::npos) << out_;
    StopServer();  // SIGTERM: the shutdown checkpoint
    ASSERT_EQ(Rows(db()).size(), 6u);
  }

  void ExpectBroken(const std::vector<std::string>& expected) {
    StartServer();
    EXPECT_EQ(Ctl("aude", "audit verify --identities"), 1) << out_ << err_;
    for (const std::string& e : expected) {
      EXPECT_NE(out_.find(e), std::string::npos) << "missing \"" << e << "\" in:\n" << out_ << err_;
    }
  }

  std::filesystem::path db() { return dir_ / "dispatch.db"; }
};

TEST_F(IdentityLogE2eTest, HistoryShowsWhoHadWhichRoleWhenAndStartUpsLogEachChange) {
  RecordHistory();
  StartServer();
  ASSERT_EQ(Ctl("aude", "audit identities"), 0) << err_;
  for (const char* e : {"Identity log (6 entries", "ADDED", "dora", "dispatcher",
                        "ROLE_CHANGED  olga         operator -> auditor",
                        "ADDED         piet         operator token",
                        "TOKEN_ROTATED dora         dispatcher token", "tokens.toml"}) {
    EXPECT_NE(out_.find(e), std::string::npos) << e << " in:\n" << out_;
  }
  EXPECT_EQ(out_.find(cit::dispatch::TokenHashHex("cit_e2e_dora")), std::string::npos)
      << "never the token hash";
  // Who could acknowledge alerts now: olga no longer (auditor), piet does.
  ASSERT_EQ(Ctl("aude", "--json audit identities --at 2100-01-01T00:00:00Z"), 0) << err_;
  EXPECT_NE(out_.find(R"({"can_acknowledge":false,"name":"olga","roles":["auditor"])"),
            std::string::npos)
      << out_;
  EXPECT_NE(out_.find(R"({"can_acknowledge":true,"name":"piet","roles":["operator"])"),
            std::string::npos)
      << out_;
  // Before the first start-up nobody was in force.
  ASSERT_EQ(Ctl("aude", "audit identities --at 2000-01-01"), 0) << err_;
  EXPECT_NE(out_.find("(0 operators)"), std::string::npos) << out_;
  // The history is the auditor's: an operator is refused.
  EXPECT_NE(Ctl("piet", "audit identities"), 0);
  EXPECT_NE(err_.find("PERMISSION_DENIED"), std::string::npos) << err_;
  // Each change was logged at INFO by the start-up that learned of it.
  const std::string log = cit::test::ReadFile(dir_ / "server.log");
  EXPECT_NE(log.find("event=identity_change index=6 change=IDENTITY_CHANGE_TOKEN_ROTATED"),
            std::string::npos)
      << log;
  // An unchanged file appends nothing: still 6 entries after this fourth start-up.
  EXPECT_EQ(Rows(db()).size(), 6u);
}

TEST_F(IdentityLogE2eTest, ChangedRoleOfAnEntryIsNamed) {
  RecordHistory();
  {
    // olga was an auditor from start-up 2 on; the attacker makes her an operator throughout.
    Exec(db(), "DROP TRIGGER identity_events_append_only_update");
    std::vector<Row> rows = Rows(db());
    cit::v1::IdentityEvent e;
    ASSERT_TRUE(e.ParseFromString(rows[3].body));
    ASSERT_EQ(e.change(), cit::v1::IDENTITY_CHANGE_ROLE_CHANGED);
    e.set_role("operator");
    Write(db(), "UPDATE identity_events SET role = 'operator', body = ?1 WHERE idx = 4",
          {cit::dispatch::SerializeDeterministic(e)});
  }
  ExpectBroken({"BROKEN: identities at identity event 4 (olga ROLE_CHANGED", "hash mismatch"});
}

TEST_F(IdentityLogE2eTest, DeletedEntryIsNamed) {
  RecordHistory();
  Exec(db(), "DROP TRIGGER identity_events_append_only_delete");
  Exec(db(), "DELETE FROM identity_events WHERE idx = 4");
  ExpectBroken({"BROKEN: identities at identity event 4", "deleted",
                "jumps from identity event "
                "3"});
}

TEST_F(IdentityLogE2eTest, ReorderedEntriesAreNamed) {
  RecordHistory();
  Exec(db(), "DROP TRIGGER identity_events_append_only_update");
  // Swap entries 4 and 5 (through free positions: idx is the primary key).
  Exec(db(), "UPDATE identity_events SET idx = idx + 100 WHERE idx IN (4, 5)");
  Exec(db(), "UPDATE identity_events SET idx = 5 WHERE idx = 104");
  Exec(db(), "UPDATE identity_events SET idx = 4 WHERE idx = 105");
  ExpectBroken({"BROKEN: identities at identity event 5 (piet ADDED operator)", "moved",
                "chain position 5"});
}

TEST_F(IdentityLogE2eTest, NaivelyRecomputedChainIsNamedAtTheChangedEntry) {
  RecordHistory();
  {
    // Make aude (entry 1..3 are added in name order: aude, dora, olga) an admin and recompute
    // every hash after it: internally consistent, but not what the server signed.
    Exec(db(), "DROP TRIGGER identity_events_append_only_update");
    std::vector<Row> rows = Rows(db());
    std::string head = cit::dispatch::kChainGenesis;
    for (Row& r : rows) {
      cit::v1::IdentityEvent e;
      ASSERT_TRUE(e.ParseFromString(r.body));
      if (r.idx == 1) {
        ASSERT_EQ(e.name(), "aude");
        e.set_role("admin");
        r.body = cit::dispatch::SerializeDeterministic(e);
      }
      head = *cit::dispatch::ChainStep(
          head, cit::dispatch::CanonicalEntryBytes("citwatch.identity.v1", r.idx, 0, r.body));
      Write(db(),
            "UPDATE identity_events SET role = '" + e.role() +
                "', body = ?1, hash = ?2 WHERE idx = " + std::to_string(r.idx),
            {r.body, head});
    }
  }
  ExpectBroken({"BROKEN: identities at identity event 1 (aude ADDED admin)",
                "no longer matches signed checkpoint #", "recomputed without the signing key"});
}

TEST_F(IdentityLogE2eTest, CutTailAfterACheckpointIsNamed) {
  RecordHistory();
  Exec(db(), "DROP TRIGGER identity_events_append_only_delete");
  Exec(db(), "DELETE FROM identity_events WHERE idx > 4");
  ExpectBroken({"BROKEN: identities at identity events 5..6 (after identity event 4 (olga",
                "missing after position 4: signed checkpoint #", "lists 6 entries, 4 remain"});
}

TEST_F(IdentityLogE2eTest, EntryForgedWhileTheServerWasStoppedIsNamed) {
  RecordHistory();
  {
    // A correctly chained entry making mallory an admin, appended to the stopped server's file.
    std::vector<Row> rows = Rows(db());
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db().c_str(), &h), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(h, "SELECT hash FROM identity_events WHERE idx = 6", -1, &st, nullptr),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    const std::string prev(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                           sqlite3_column_bytes(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    cit::v1::IdentityEvent e;
    ASSERT_TRUE(e.ParseFromString(rows.back().body));
    e.set_index(7);
    e.set_change(cit::v1::IDENTITY_CHANGE_ADDED);
    e.set_name("mallory");
    e.set_role("admin");
    e.clear_previous_token_fingerprint();
    const std::string body = cit::dispatch::SerializeDeterministic(e);
    const std::string hash = *cit::dispatch::ChainStep(
        prev, cit::dispatch::CanonicalEntryBytes("citwatch.identity.v1", 7, 0, body));
    Write(db(),
          "INSERT INTO identity_events (idx, time_ns, change, name, role, token_fingerprint, "
          "body, hash) VALUES (7, " +
              std::to_string(e.time().seconds() * 1'000'000'000 + e.time().nanos()) +
              ", 1, 'mallory', 'admin', '" + e.token_fingerprint() + "', ?1, ?2)",
          {body, hash});
  }
  // The start-up finds mallory in the log but not in the file, and records the removal; the
  // forged entry itself sits between the shutdown and start-up checkpoints.
  ExpectBroken({"BROKEN: identities at identity event 7 (mallory ADDED admin)",
                "appeared while the server was stopped"});
}

}  // namespace
}  // namespace cit::ctl
