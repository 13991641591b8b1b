// Thin RAII layer over the SQLite C API for every dispatch-server component that keeps state in
// the server's database file: an owned connection, prepared statements with bind/step/column
// helpers, a transaction guard and per-component schema migrations.
//
// Usage:
//     absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path);
//     static const sqlite::Migration kMigrations[] = {
//         {1, "create runs", "CREATE TABLE runs (id TEXT PRIMARY KEY, plan BLOB NOT NULL)"},
//         {2, "index runs by vehicle", "CREATE INDEX runs_vehicle ON runs (vehicle_id)"}};
//     absl::Status s = sqlite::ApplyMigrations(**db, "plans", kMigrations);
//
//     absl::StatusOr<sqlite::Statement> ins = (*db)->Prepare("INSERT INTO runs VALUES (?1, ?2)");
//     sqlite::Transaction tx(**db);                 // BEGIN IMMEDIATE
//     if (!tx.status().ok()) return tx.status();
//     ins->Reset().Bind(1, "R-1").Bind(2, sqlite::Blob(bytes));
//     if (absl::Status s = ins->Run(); !s.ok()) return s;   // rollback on scope exit
//     return tx.Commit();
//
//     absl::StatusOr<sqlite::Statement> q = (*db)->Prepare("SELECT id FROM runs");
//     while (true) {
//       absl::StatusOr<bool> row = q->Step();     // true: a row is ready; false: done
//       if (!row.ok()) return row.status();
//       if (!*row) break;
//       std::string id = q->ColumnText(0);
//     }
//
// Several components share ONE database file (records, runs, alerts, audit), each with its own
// connection: open one `Database` per thread that writes (WAL lets readers run beside the single
// writer; writers wait up to `busy_timeout_ms`). Each component registers its own ordered
// migrations under its own name in the schema_migrations(component, version) table.
//
// Thread contract: a Database and its Statements belong to one thread at a time (the connection
// is opened in SQLite's multi-thread mode; no internal locking). Statements must be destroyed
// before their Database.
#ifndef CIT_DISPATCH_STORE_SQLITE_DB_H_
#define CIT_DISPATCH_STORE_SQLITE_DB_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cit::dispatch::sqlite {

// How hard a commit waits for the disk (PRAGMA synchronous in WAL mode).
//   kFull:   fsync at every commit: a committed transaction survives power loss. Default.
//   kNormal: survives a process crash (kill -9) but may lose the last commits on power loss.
enum class Durability { kFull, kNormal };

struct OpenOptions {
  Durability durability = Durability::kFull;
  // How long a writer waits for another connection's write lock before SQLITE_BUSY.
  int busy_timeout_ms = 5000;
  bool read_only = false;
  // Page cache per connection, KiB (SQLite's default is 2 MiB; a fleet's interleaved appends
  // touch many pages).
  int cache_kib = 64 * 1024;
  // WAL pages after which a commit also checkpoints (0 = never: the owner checkpoints).
  int wal_autocheckpoint_pages = 1000;
};

// A byte string bound as a BLOB (text and blobs are distinct SQLite types).
struct Blob {
  explicit Blob(std::string_view b) : bytes(b) {}
  std::string_view bytes;
};

class Database;

// A prepared statement. Bind errors are remembered and returned by the next Step()/Run(), so
// binding can be chained. Parameter and column indexes follow SQLite: parameters from 1,
// columns from 0.
class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, uint32_t value) { return Bind(index, static_cast<int64_t>(value)); }
  // uint64 values above INT64_MAX are refused (sequence numbers never get there).
  Statement& Bind(int index, uint64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, std::string_view(text));
  }
  Statement& Bind(int index, Blob blob);
  Statement& Bind(int index, std::nullptr_t);
  template <typename T>
  Statement& Bind(int index, const std::optional<T>& value) {
    return value.has_value() ? Bind(index, *value) : Bind(index, nullptr);
  }

  // Advances: true when a row is ready to read, false when the statement is done.
  absl::StatusOr<bool> Step();
  // Steps until done (INSERT/UPDATE/DDL); an unexpected row is not an error.
  absl::Status Run();
  // Resets for re-execution and clears bindings and any remembered bind error.
  Statement& Reset();

  int ColumnCount() const;
  bool ColumnIsNull(int col) const;
  int64_t ColumnInt64(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  std::string ColumnBlob(int col) const;
  // The blob without a copy: valid until the next Step, Reset or column read of this column.
  std::string_view ColumnBlobView(int col) const;
  std::optional<double> ColumnOptionalDouble(int col) const;
  std::optional<int64_t> ColumnOptionalInt64(int col) const;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void Remember(int rc, int index);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  absl::Status bind_status_;
};

// An open connection. Open() sets WAL, foreign keys, the busy timeout and the durability.
class Database {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::filesystem::path& path,
                                                        const OpenOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database(Database&&) = delete;
  Database& operator=(Database&&) = delete;

  // Runs one or more SQL statements without results (DDL, PRAGMA, BEGIN/COMMIT).
  absl::Status Exec(std::string_view sql);
  absl::StatusOr<Statement> Prepare(std::string_view sql);

  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int Changes() const;
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::filesystem::path path_;
};

// Scope guard: BEGIN IMMEDIATE on construction (takes the write lock up front, so a
// read-then-write transaction cannot fail halfway with SQLITE_BUSY), ROLLBACK on destruction
// unless Commit() succeeded.
class Transaction {
 public:
  enum class Mode { kImmediate, kDeferred };
  explicit Transaction(Database& db, Mode mode = Mode::kImmediate);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&&) = delete;
  Transaction& operator=(Transaction&&) = delete;

  // Whether BEGIN succeeded; check before using the transaction.
  const absl::Status& status() const { return begin_status_; }
  absl::Status Commit();

 private:
  Database& db_;
  absl::Status begin_status_;
  bool open_ = false;
};

// One schema step of one component. Versions start at 1 and increase by one; a version once
// released is never edited (add a new one instead).
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;  // may hold several statements
};

// Applies, in one transaction each, every migration of `component` whose version is above the
// one recorded in schema_migrations(component, version, description, applied_at). Fails if the
// database records a version this binary does not know (a newer server wrote it).
absl::Status ApplyMigrations(Database& db, std::string_view component,
                             std::span<const Migration> migrations);

// Highest applied migration version of `component` (0 if none).
absl::StatusOr<int> SchemaVersion(Database& db, std::string_view component);

}  // namespace cit::dispatch::sqlite

#endif  // CIT_DISPATCH_STORE_SQLITE_DB_H_
