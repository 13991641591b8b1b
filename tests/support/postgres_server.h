// Test support: a private PostgreSQL 15 server (Debian package postgresql-15) for the store
// tests, started from a temp directory on a free loopback port and stopped at exit.
//
//   absl::StatusOr<std::string> conninfo = cit::test::SharedPostgres().CreateDatabase();
//   PostgresStoreOptions o{.connection = *conninfo};
//
// One server per test process, started on first use (tests that never ask pay nothing); every
// CreateDatabase() is a fresh, empty database. The cluster is made once per machine by initdb
// into $TMPDIR/citwatch-pg15-template-v1 and copied for each process (initdb costs ~1.3 s,
// the copy and start ~0.3 s).
//
// Speed settings, for this fixture only: fsync=off, full_page_writes=off (a crash of a test
// server loses nothing that matters). Tests of durability must not rely on this server's disk.
// As root (CI), PostgreSQL refuses to run: initdb and postgres run as user `nobody`.
//
// Thread contract: SharedPostgres() and CreateDatabase() are thread-safe.
#ifndef CIT_TESTS_SUPPORT_POSTGRES_SERVER_H_
#define CIT_TESTS_SUPPORT_POSTGRES_SERVER_H_

#include <filesystem>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace cit::test {

class PostgresServer {
 public:
  // initdb (or copy the template), pg_ctl start -w. FAILED_PRECONDITION names the package when
  // the binaries are missing.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();  // pg_ctl stop -m immediate, then removes the directory
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Connection string for `database` as the superuser `postgres`.
  std::string Conninfo(const std::string& database = "postgres",
                       const std::string& user = "postgres") const;
  // A new empty database; returns its superuser connection string.
  absl::StatusOr<std::string> CreateDatabase();
  // Runs SQL as the superuser on `database` (roles, grants, tampering in tests).
  absl::Status Exec(const std::string& database, const std::string& sql) const;
  int port() const { return port_; }

 private:
  PostgresServer() = default;
  std::filesystem::path dir_;
  int port_ = 0;
  std::mutex mu_;
  int next_db_ = 0;
};

// The process's server, started on first call. A start failure fails the calling test (ADD_FAILURE
// with the reason) and returns nullptr.
PostgresServer* SharedPostgres();

}  // namespace cit::test

#endif  // CIT_TESTS_SUPPORT_POSTGRES_SERVER_H_
