// Test support for the store contract tests that run on both backends (issue 15): one database,
// SQLite (a file in a temp dir) or PostgreSQL (a fresh database of the process's private server,
// tests/support/postgres_server.h), chosen by the test parameter "sqlite" / "postgresql".
//
//   class RunStoreTest : public ::testing::TestWithParam<std::string> {
//     BackendDb db_{GetParam()};
//   };
//   auto runs = db_.OpenRunStore();
//   db_.Exec("DELETE FROM plan_events");   // as the superuser / beside the store
//
// Thread contract: single-owner.
#ifndef CIT_TESTS_DISPATCH_STORE_BACKENDS_H_
#define CIT_TESTS_DISPATCH_STORE_BACKENDS_H_

#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/plans/run_store.h"
#include "dispatch-server/store/postgres_alert_store.h"
#include "dispatch-server/store/postgres_replay_reader.h"
#include "dispatch-server/store/postgres_run_store.h"
#include "dispatch-server/store/postgres_snapshot_store.h"
#include "dispatch-server/store/postgres_store.h"
#include "dispatch-server/store/sqlite_alert_store.h"
#include "dispatch-server/store/sqlite_db.h"
#include "dispatch-server/store/sqlite_replay_reader.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "dispatch-server/store/sqlite_snapshot_store.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::dispatch::test {

class BackendDb {
 public:
  explicit BackendDb(std::string backend) : backend_(std::move(backend)) {
    if (!pg()) return;
    server_ = cit::test::SharedPostgres();
    if (server_ == nullptr) return;  // SharedPostgres failed the test, saying why
    absl::StatusOr<std::string> db = server_->CreateDatabase();
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return;
    conninfo_ = *db;
    database_ = conninfo_.substr(conninfo_.find("dbname=") + 7);
    database_ = database_.substr(0, database_.find(' '));
  }

  bool pg() const { return backend_ == "postgresql"; }
  std::filesystem::path path() const { return dir_ / "dispatch.db"; }
  const std::string& conninfo() const { return conninfo_; }
  const std::string& database() const { return database_; }
  cit::test::PostgresServer* server() const { return server_; }
  const cit::test::TempDir& dir() const { return dir_; }

  absl::StatusOr<std::unique_ptr<RunStore>> OpenRunStore() const {
    if (pg()) return Up<RunStore>(PostgresRunStore::Open(conninfo_));
    return Up<RunStore>(SqliteRunStore::Open(path()));
  }

  absl::StatusOr<std::unique_ptr<AlertStore>> OpenAlertStore() const {
    if (pg()) return Up<AlertStore>(PostgresAlertStore::Open(conninfo_));
    return Up<AlertStore>(SqliteAlertStore::Open(path()));
  }

  // The record store (SQLite at normal durability: tests append often).
  absl::StatusOr<std::unique_ptr<Store>> OpenRecordStore() const {
    if (pg()) {
      PostgresStoreOptions o;
      o.connection = conninfo_;
      return Up<Store>(PostgresStore::Open(o));
    }
    return Up<Store>(SqliteStore::Open(path(), {.durability = sqlite::Durability::kNormal}));
  }

  absl::StatusOr<std::unique_ptr<ReplaySource>> OpenReplaySource() const {
    if (pg()) return Up<ReplaySource>(PostgresReplayReader::Open(conninfo_));
    return Up<ReplaySource>(SqliteReplayReader::Open(path()));
  }

  absl::StatusOr<std::unique_ptr<SnapshotStore>> OpenSnapshotStore() const {
    if (pg()) return Up<SnapshotStore>(PostgresSnapshotStore::Open(conninfo_));
    return Up<SnapshotStore>(SqliteSnapshotStore::Open(path()));
  }

  // The connection string of a new login role in citwatch_server (the server's role,
  // docs/operations.md); PostgreSQL only, after the owner migrated.
  std::string ServerRoleConninfo() const {
    const std::string role = database_ + "_dispatch";
    EXPECT_TRUE(Exec("CREATE ROLE " + role + " LOGIN IN ROLE citwatch_server").ok());
    std::string c = conninfo_;
    c.replace(c.find("user=postgres"), 13, "user=" + role);
    return c;
  }

  // Each statement is refused when run on its own as the login of `conninfo` (PostgreSQL).
  static void ExpectRefusedAs(const std::string& conninfo, const std::vector<std::string>& sqls) {
    pqxx::connection c(conninfo);
    for (const std::string& sql : sqls) {
      pqxx::nontransaction t(c);
      EXPECT_THROW(t.exec(sql), pqxx::sql_error) << sql;
    }
  }

  // The first column (bytes) of every row of `sql`, read beside the store.
  std::vector<std::string> Column(const std::string& sql) const {
    std::vector<std::string> out;
    if (pg()) {
      pqxx::connection c(conninfo_);
      pqxx::read_transaction t(c);
      for (const pqxx::row& r : t.exec(sql)) out.push_back(pg::Bytes(r[0]));
      return out;
    }
    auto db = sqlite::Database::Open(path());
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return out;
    auto q = (*db)->Prepare(sql);
    EXPECT_TRUE(q.ok()) << q.status();
    while (q.ok() && *q->Step()) out.push_back(q->ColumnBlob(0));
    return out;
  }

  // SQL beside the store: as the superuser on PostgreSQL, on its own connection on SQLite.
  absl::Status Exec(const std::string& sql) const {
    if (pg()) return server_->Exec(database_, sql);
    auto db = sqlite::Database::Open(path());
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }

 private:
  template <typename Base, typename T>
  static absl::StatusOr<std::unique_ptr<Base>> Up(absl::StatusOr<std::unique_ptr<T>> s) {
    if (!s.ok()) return s.status();
    return std::unique_ptr<Base>(std::move(*s));
  }

  std::string backend_;
  cit::test::TempDir dir_;
  cit::test::PostgresServer* server_ = nullptr;
  std::string conninfo_;
  std::string database_;
};

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& p) { return p.param; }

}  // namespace cit::dispatch::test

#endif  // CIT_TESTS_DISPATCH_STORE_BACKENDS_H_
