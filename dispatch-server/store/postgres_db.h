// PostgreSQL plumbing shared by the PostgreSQL store backends (issue 15): connecting with an
// error that says where and what to check, mapping libpqxx exceptions to absl::Status, and
// versioned migrations (the counterpart of sqlite_db.h's ApplyMigrations).
//
//   absl::StatusOr<std::unique_ptr<pqxx::connection>> c = pg::Connect("host=... dbname=...");
//   absl::Status s = pg::ApplyMigrations(**c, "records", kMigrations);
//
// Thread contract: a pqxx::connection is used by one thread at a time; these functions only use
// the connection passed in.
#ifndef CIT_DISPATCH_STORE_POSTGRES_DB_H_
#define CIT_DISPATCH_STORE_POSTGRES_DB_H_

#include <exception>
#include <memory>
#include <pqxx/connection>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cit::dispatch::pg {

// Opens a connection and sets synchronous_commit = on for it (acks wait for the flush whatever
// the database's default). UNAVAILABLE names host, port, database and user and what to check.
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(const std::string& conninfo);

// "host 127.0.0.1 port 5432 database citwatch user dispatch" for messages (no password).
std::string DescribeConnection(const std::string& conninfo);

// Status for a libpqxx (or std) exception: unique violation -> ALREADY_EXISTS, privilege ->
// PERMISSION_DENIED, broken connection -> UNAVAILABLE, others INTERNAL; `what` prefixes it.
absl::Status FromException(const std::exception& e, std::string_view what);

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;  // may hold several statements
};

// Applies, in one transaction under an advisory lock, every migration of `component` above the
// version recorded in schema_migrations. A role that may not change the schema (the server's
// citwatch_server role) passes when the schema is current and gets FAILED_PRECONDITION saying
// to migrate with the owner role otherwise. A version newer than `migrations` is refused.
absl::Status ApplyMigrations(pqxx::connection& c, std::string_view component,
                             std::span<const Migration> migrations);

}  // namespace cit::dispatch::pg

#endif  // CIT_DISPATCH_STORE_POSTGRES_DB_H_
