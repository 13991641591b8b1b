#include "dispatch-server/notify/sqlite_outbox.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

constexpr sqlite::Migration kNotifyMigrations[] = {{1, "notification outbox",
                                                    R"sql(
CREATE TABLE notifications (
  id           INTEGER PRIMARY KEY,
  key          TEXT NOT NULL UNIQUE,
  target       TEXT NOT NULL,
  channel      TEXT NOT NULL,
  body         TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  created      INTEGER NOT NULL,
  delivered    INTEGER,
  last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notifications_due ON notifications (state, next_attempt);
)sql"}};

int64_t Ns(SysTime t) { return t.time_since_epoch().count(); }

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteOutbox>> SqliteOutbox::Open(
    const std::filesystem::path& db_path, size_t max_pending) {
  sqlite::OpenOptions options;
  options.cache_kib = 2 * 1024;
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(db_path, options);
  if (!db.ok()) return db.status();
  if (absl::Status s = sqlite::ApplyMigrations(**db, "notify", kNotifyMigrations); !s.ok()) {
    return s;
  }
  return std::unique_ptr<SqliteOutbox>(new SqliteOutbox(*std::move(db), max_pending));
}

absl::StatusOr<bool> SqliteOutbox::Enqueue(const Notification& n, SysTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  absl::StatusOr<sqlite::Statement> count =
      db_->Prepare("SELECT count(*) FROM notifications WHERE state = 'pending'");
  if (!count.ok()) return count.status();
  absl::StatusOr<bool> row = count->Step();
  if (!row.ok()) return row.status();
  const int64_t pending = count->ColumnInt64(0);
  absl::StatusOr<sqlite::Statement> exists =
      db_->Prepare("SELECT 1 FROM notifications WHERE key = ?1");
  if (!exists.ok()) return exists.status();
  exists->Bind(1, n.key);
  absl::StatusOr<bool> found = exists->Step();
  if (!found.ok()) return found.status();
  if (*found) return false;
  if (static_cast<size_t>(pending) >= max_pending_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("notification outbox full: ", pending,
                     " notifications wait for delivery (notify.max_pending); ", n.key,
                     " not stored: check why the targets do not accept deliveries"));
  }
  absl::StatusOr<sqlite::Statement> ins = db_->Prepare(
      "INSERT INTO notifications (key, target, channel, body, state, next_attempt, created) "
      "VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, n.key).Bind(2, n.target).Bind(3, n.channel).Bind(4, n.body).Bind(5, Ns(now));
  if (absl::Status s = ins->Run(); !s.ok()) return s;
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  return true;
}

absl::StatusOr<std::vector<Notification>> SqliteOutbox::Select(const std::string& where_sql,
                                                               SysTime now,
                                                               const std::string& state,
                                                               size_t max) {
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "SELECT id, key, target, channel, body, state, attempts, last_error FROM "
      "notifications WHERE " +
      where_sql + " ORDER BY next_attempt, id LIMIT ?3");
  if (!q.ok()) return q.status();
  q->Bind(1, state).Bind(2, Ns(now)).Bind(3, static_cast<int64_t>(max));
  std::vector<Notification> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Notification n;
    n.id = q->ColumnInt64(0);
    n.key = q->ColumnText(1);
    n.target = q->ColumnText(2);
    n.channel = q->ColumnText(3);
    n.body = q->ColumnText(4);
    n.state = q->ColumnText(5);
    n.attempts = static_cast<uint32_t>(q->ColumnInt64(6));
    n.last_error = q->ColumnText(7);
    out.push_back(std::move(n));
  }
  return out;
}

absl::StatusOr<std::vector<Notification>> SqliteOutbox::Due(SysTime now, size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  return Select("state = ?1 AND next_attempt <= ?2", now, "pending", max);
}

absl::StatusOr<std::vector<Notification>> SqliteOutbox::WithState(const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  return Select("state = ?1 AND ?2 = ?2", SysTime{}, state, 1'000'000);
}

absl::StatusOr<uint64_t> SqliteOutbox::CountState(const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<sqlite::Statement> q =
      db_->Prepare("SELECT count(*) FROM notifications WHERE state = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, state);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  return static_cast<uint64_t>(q->ColumnInt64(0));
}

absl::StatusOr<std::optional<Duration>> SqliteOutbox::NextDueIn(SysTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<sqlite::Statement> q =
      db_->Prepare("SELECT min(next_attempt) FROM notifications WHERE state = 'pending'");
  if (!q.ok()) return q.status();
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  std::optional<int64_t> ns = q->ColumnOptionalInt64(0);
  if (!ns) return std::optional<Duration>();
  return std::optional<Duration>(std::max(Duration(*ns - Ns(now)), Duration(0)));
}

absl::Status SqliteOutbox::MarkDelivered(int64_t id, SysTime now) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "UPDATE notifications SET state = 'delivered', delivered = ?2, attempts = attempts + 1 "
      "WHERE id = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, id).Bind(2, Ns(now));
  return q->Run();
}

absl::Status SqliteOutbox::MarkRetry(int64_t id, uint32_t attempts, SysTime now,
                                     std::chrono::milliseconds retry_in, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "UPDATE notifications SET attempts = ?2, next_attempt = ?3, last_error = ?4 WHERE id = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, id).Bind(2, attempts).Bind(3, Ns(now + retry_in)).Bind(4, error);
  return q->Run();
}

absl::Status SqliteOutbox::MarkFailed(int64_t id, uint32_t attempts, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "UPDATE notifications SET state = 'failed', attempts = ?2, last_error = ?3 WHERE id = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, id).Bind(2, attempts).Bind(3, error);
  return q->Run();
}

}  // namespace cit::dispatch
