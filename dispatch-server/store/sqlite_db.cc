#include "dispatch-server/store/sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cit::dispatch::sqlite {
namespace {

absl::Status FromSqlite(sqlite3* db, int rc, std::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = fmt::format("{}: {} (sqlite {})", what, msg, rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(text);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(text);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(text);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(text);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return absl::FailedPreconditionError(text);
    default:
      return absl::InternalError(text);
  }
}

}  // namespace

// ---- Statement ------------------------------------------------------------------------------

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_status_(std::move(other.bind_status_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_status_ = std::move(other.bind_status_);
  }
  return *this;
}

void Statement::Remember(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = FromSqlite(db_, rc, absl::StrCat("bind parameter ", index));
  }
}

Statement& Statement::Bind(int index, int64_t value) {
  Remember(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::Bind(int index, uint64_t value) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    if (bind_status_.ok()) {
      bind_status_ = absl::OutOfRangeError(absl::StrCat("parameter ", index, " exceeds int64"));
    }
    return *this;
  }
  return Bind(index, static_cast<int64_t>(value));
}

Statement& Statement::Bind(int index, double value) {
  Remember(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  Remember(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::Bind(int index, Blob blob) {
  // A zero-length blob must still be a BLOB, not NULL: pass a non-null pointer.
  static const char kEmpty = 0;
  const void* data = blob.bytes.empty() ? &kEmpty : blob.bytes.data();
  Remember(sqlite3_bind_blob64(stmt_, index, data, blob.bytes.size(), SQLITE_TRANSIENT), index);
  return *this;
}

Statement& Statement::Bind(int index, std::nullptr_t) {
  Remember(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return FromSqlite(db_, rc, absl::StrCat("step \"", sqlite3_sql(stmt_), "\""));
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

Statement& Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_status_ = absl::OkStatus();
  return *this;
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }
bool Statement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
int64_t Statement::ColumnInt64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::ColumnDouble(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::ColumnText(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

std::string Statement::ColumnBlob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

std::string_view Statement::ColumnBlobView(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(p), n);
}

std::optional<double> Statement::ColumnOptionalDouble(int col) const {
  if (ColumnIsNull(col)) return std::nullopt;
  return ColumnDouble(col);
}

std::optional<int64_t> Statement::ColumnOptionalInt64(int col) const {
  if (ColumnIsNull(col)) return std::nullopt;
  return ColumnInt64(col);
}

// ---- Database -------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::filesystem::path& path,
                                                         const OpenOptions& options) {
  sqlite3* raw = nullptr;
  int flags =
      SQLITE_OPEN_NOMUTEX |
      (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = FromSqlite(raw, rc, absl::StrCat("open ", path.string()));
    sqlite3_close_v2(raw);
    return s;
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  if (!options.read_only) {
    if (absl::Status s = db->Exec("PRAGMA journal_mode=WAL"); !s.ok()) return s;
  }
  const char* sync = options.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                             : "PRAGMA synchronous=NORMAL";
  if (absl::Status s = db->Exec(sync); !s.ok()) return s;
  if (absl::Status s = db->Exec("PRAGMA foreign_keys=ON"); !s.ok()) return s;
  if (absl::Status s = db->Exec(absl::StrCat("PRAGMA cache_size=-", options.cache_kib)); !s.ok())
    return s;
  if (absl::Status s =
          db->Exec(absl::StrCat("PRAGMA wal_autocheckpoint=", options.wal_autocheckpoint_pages));
      !s.ok()) {
    return s;
  }
  return db;
}

Database::~Database() { sqlite3_close_v2(db_); }

absl::Status Database::Exec(std::string_view sql) {
  std::string copy(sql);  // sqlite3_exec needs a NUL-terminated string
  char* err = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status s = FromSqlite(db_, rc, fmt::format("exec \"{}\"", sql.substr(0, 80)));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return FromSqlite(db_, rc, fmt::format("prepare \"{}\"", sql));
  }
  if (stmt == nullptr) return absl::InvalidArgumentError("prepare: empty SQL");
  return Statement(db_, stmt);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Database::Changes() const { return sqlite3_changes(db_); }

// ---- Transaction ----------------------------------------------------------------------------

Transaction::Transaction(Database& db, Mode mode) : db_(db) {
  begin_status_ = db_.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN");
  open_ = begin_status_.ok();
}

Transaction::~Transaction() {
  if (open_) (void)db_.Exec("ROLLBACK");
}

absl::Status Transaction::Commit() {
  if (!open_) {
    return begin_status_.ok() ? absl::FailedPreconditionError("transaction already finished")
                              : begin_status_;
  }
  absl::Status s = db_.Exec("COMMIT");
  if (s.ok()) open_ = false;  // on failure the destructor rolls back
  return s;
}

// ---- migrations -----------------------------------------------------------------------------

namespace {

absl::Status EnsureMigrationsTable(Database& db) {
  return db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "  component TEXT NOT NULL,"
      "  version INTEGER NOT NULL,"
      "  description TEXT NOT NULL,"
      "  applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
      "  PRIMARY KEY (component, version))");
}

}  // namespace

absl::StatusOr<int> SchemaVersion(Database& db, std::string_view component) {
  if (absl::Status s = EnsureMigrationsTable(db); !s.ok()) return s;
  absl::StatusOr<Statement> q =
      db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, component);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<int>(q->ColumnInt64(0)) : 0;
}

absl::Status ApplyMigrations(Database& db, std::string_view component,
                             std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InvalidArgumentError(
          fmt::format("migrations of {} must be numbered 1, 2, ...; entry {} has version {}",
                      component, i, migrations[i].version));
    }
  }
  if (absl::Status s = EnsureMigrationsTable(db); !s.ok()) return s;
  for (const Migration& m : migrations) {
    Transaction tx(db);
    if (!tx.status().ok()) return tx.status();
    // Re-read inside the write transaction: another connection may migrate concurrently.
    absl::StatusOr<int> current = SchemaVersion(db, component);
    if (!current.ok()) return current.status();
    if (*current > static_cast<int>(migrations.size())) {
      return absl::FailedPreconditionError(
          fmt::format("database has {} schema version {} but this binary knows only up to {}",
                      component, *current, migrations.size()));
    }
    if (m.version <= *current) continue;
    if (absl::Status s = db.Exec(m.sql); !s.ok()) {
      return absl::Status(s.code(), fmt::format("migration {} v{} ({}): {}", component, m.version,
                                                m.description, std::string(s.message())));
    }
    absl::StatusOr<Statement> ins = db.Prepare(
        "INSERT INTO schema_migrations (component, version, description) VALUES (?1, ?2, ?3)");
    if (!ins.ok()) return ins.status();
    ins->Bind(1, component).Bind(2, m.version).Bind(3, m.description);
    if (absl::Status s = ins->Run(); !s.ok()) return s;
    if (absl::Status s = tx.Commit(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace cit::dispatch::sqlite
