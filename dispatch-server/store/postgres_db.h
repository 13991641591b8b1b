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
#include <mutex>
#include <pqxx/connection>
#include <pqxx/field>
#include <pqxx/result>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

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

// A bytea column's bytes.
std::string Bytes(const pqxx::field& f);

// Parses the first column of every row (a serialised protobuf) into a Message; DATA_LOSS names
// `table` when one does not parse.
template <typename Message>
absl::StatusOr<std::vector<Message>> ParseRows(const pqxx::result& rows, std::string_view table) {
  std::vector<Message> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!out[i].ParseFromString(Bytes(rows[i][0]))) {
      return absl::DataLossError(absl::StrCat(std::string(table), ": unparsable stored row"));
    }
  }
  return out;
}

// The server's group role, shared by every component's first migration (idempotent): a role
// that logs in as a member of citwatch_server gets only what each component grants it.
inline constexpr char kServerRoleSql[] = R"sql(
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'citwatch_server') THEN
    CREATE ROLE citwatch_server NOLOGIN;
  END IF;
END $$;
GRANT SELECT ON schema_migrations TO citwatch_server;
)sql";

// The trigger function refusing a statement on an append-only table, shared by the components
// with history ("runs", "alerts"; idempotent). No UPDATE or DELETE on history is ever granted
// to citwatch_server either, so the triggers are the owner's guard.
inline constexpr char kAppendOnlySql[] = R"sql(
CREATE OR REPLACE FUNCTION citwatch_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
)sql";

// SQL making `table` refuse UPDATE, DELETE and TRUNCATE by trigger (after kAppendOnlySql).
std::string AppendOnlyTriggersSql(std::string_view table);

// One connection for a store's calls, serialised by a mutex, and opened again on the next call
// when the server ended it (the call that found it broken fails UNAVAILABLE).
//
//   absl::StatusOr<std::unique_ptr<pg::Session>> s = pg::Session::Open(conninfo);
//   absl::Status st = (*s)->Run("saving run", [&](pqxx::connection& c) -> absl::Status {...});
//
// Thread contract: thread-safe; `fn` runs with the mutex held.
class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open(std::string conninfo);

  // fn(connection) returns absl::Status or absl::StatusOr<T>; a libpqxx exception becomes a
  // status (FromException) prefixed with `what`.
  template <typename Fn>
  auto Run(std::string_view what, Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status s = EnsureOpen(); !s.ok()) return s;
    try {
      return fn(*conn_);
    } catch (const std::exception& e) {
      return FromException(e, what);
    }
  }

 private:
  explicit Session(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  absl::Status EnsureOpen();

  const std::string conninfo_;
  std::mutex mu_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace cit::dispatch::pg

#endif  // CIT_DISPATCH_STORE_POSTGRES_DB_H_
