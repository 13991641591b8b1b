#include "dispatch-server/notify/postgres_outbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

// Append-only where it matters: what was queued never changes and no row goes away, so the
// outbox stays the record of every notification the fleet made; only a pending row's delivery
// state moves (forward: pending -> delivered | failed, final), because claims, retries and the
// outcome have to be written somewhere every instance sees.
const std::string kOutboxSchemaSql = absl::StrCat(pg::kServerRoleSql, pg::kAppendOnlySql, R"sql(
CREATE TABLE notifications (
  id           bigserial   PRIMARY KEY,
  key          text        NOT NULL UNIQUE,
  target       text        NOT NULL,
  channel      text        NOT NULL,
  body         text        NOT NULL,
  queued_by    text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  state        text        NOT NULL DEFAULT 'pending'
                           CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt timestamptz NOT NULL DEFAULT clock_timestamp(),
  claimed_by   text,
  claim_until  timestamptz,
  delivered_by text,
  delivered_at timestamptz,
  last_error   text        NOT NULL DEFAULT ''
);
CREATE INDEX notifications_due ON notifications (next_attempt) WHERE state = 'pending';
CREATE OR REPLACE FUNCTION citwatch_outbox_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.id, NEW.key, NEW.target, NEW.channel, NEW.body, NEW.queued_by, NEW.created_at)
       IS DISTINCT FROM
     (OLD.id, OLD.key, OLD.target, OLD.channel, OLD.body, OLD.queued_by, OLD.created_at) THEN
    RAISE EXCEPTION 'notifications: what was queued is never changed (notification %)', OLD.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.state <> 'pending' THEN
    RAISE EXCEPTION 'notifications: notification % is % (final)', OLD.id, OLD.state
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.attempts < OLD.attempts THEN
    RAISE EXCEPTION 'notifications: attempts of notification % never go down', OLD.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER notifications_guard BEFORE UPDATE ON notifications FOR EACH ROW
  EXECUTE FUNCTION citwatch_outbox_guard();
CREATE TRIGGER notifications_no_delete BEFORE DELETE ON notifications FOR EACH ROW
  EXECUTE FUNCTION citwatch_append_only();
CREATE TRIGGER notifications_no_truncate BEFORE TRUNCATE ON notifications FOR EACH STATEMENT
  EXECUTE FUNCTION citwatch_append_only();
REVOKE ALL ON notifications FROM PUBLIC;
GRANT SELECT, INSERT ON notifications TO citwatch_server;
GRANT UPDATE (state, attempts, next_attempt, claimed_by, claim_until, delivered_by,
              delivered_at, last_error) ON notifications TO citwatch_server;
GRANT USAGE ON SEQUENCE notifications_id_seq TO citwatch_server;
)sql");

// Released versions are never edited.
const pg::Migration kMigrations[] = {
    {1, "the notification outbox shared by the instances, claimed one row at a time",
     kOutboxSchemaSql},
};

constexpr char kColumns[] = "id, key, target, channel, body, state, attempts, last_error";

Notification FromRow(const pqxx::row& r) {
  Notification n;
  n.id = r[0].as<int64_t>();
  n.key = r[1].as<std::string>();
  n.target = r[2].as<std::string>();
  n.channel = r[3].as<std::string>();
  n.body = r[4].as<std::string>();
  n.state = r[5].as<std::string>();
  n.attempts = r[6].as<uint32_t>();
  n.last_error = r[7].as<std::string>();
  return n;
}

// A mark that changed no row: the claim was taken over (it expired) or the row is final.
absl::Status Claimed(const pqxx::result& r, int64_t id, std::string_view mark) {
  if (r.affected_rows() == 1) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("notification ", id, " not marked ", std::string(mark),
                   ": this instance's claim expired and another instance took it (or marked "
                   "it); the receiver may see it twice under one idempotency key"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresOutbox>> PostgresOutbox::Open(
    const std::string& conninfo, std::string instance, std::chrono::milliseconds claim,
    size_t max_pending) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  absl::Status migrated = (*session)->Run(
      "migrating the notification outbox",
      [](pqxx::connection& c) { return pg::ApplyMigrations(c, "outbox", kMigrations); });
  if (!migrated.ok()) return migrated;
  return std::unique_ptr<PostgresOutbox>(
      new PostgresOutbox(*std::move(session), std::move(instance), claim, max_pending));
}

absl::StatusOr<bool> PostgresOutbox::Enqueue(const Notification& n, SysTime) {
  return session_->Run("queueing a notification", [&](pqxx::connection& c) -> absl::StatusOr<bool> {
    pqxx::work w(c);
    // The bound is checked in the INSERT's own snapshot: instances queueing at the same moment
    // may pass it together by a few rows, never by more than one each.
    pqxx::result r = w.exec_params(
        "INSERT INTO notifications (key, target, channel, body, queued_by) "
        "SELECT $1, $2, $3, $4, $5 "
        "WHERE (SELECT count(*) FROM notifications WHERE state = 'pending') < $6 "
        "ON CONFLICT (key) DO NOTHING RETURNING id",
        n.key, n.target, n.channel, n.body, instance_, static_cast<int64_t>(max_pending_));
    if (!r.empty()) {
      w.commit();
      return true;
    }
    pqxx::result existing = w.exec_params("SELECT 1 FROM notifications WHERE key = $1", n.key);
    if (!existing.empty()) return false;
    pqxx::result pending = w.exec("SELECT count(*) FROM notifications WHERE state = 'pending'");
    return absl::ResourceExhaustedError(
        absl::StrCat("notification outbox full: ", pending[0][0].as<int64_t>(),
                     " notifications wait for delivery (notify.max_pending); ", n.key,
                     " not stored: check why the targets do not accept deliveries"));
  });
}

absl::StatusOr<std::vector<Notification>> PostgresOutbox::Due(SysTime, size_t max) {
  if (max == 0) return std::vector<Notification>();
  return session_->Run(
      "claiming a notification",
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<Notification>> {
        pqxx::work w(c);
        // SKIP LOCKED: a row another instance is claiming right now is left to it; one it
        // claimed and committed fails the re-checked claim_until (READ COMMITTED re-evaluates
        // the WHERE on the row it locks).
        pqxx::result r = w.exec_params(
            fmt::format("UPDATE notifications SET claimed_by = $1, "
                        "  claim_until = clock_timestamp() + $2 * interval '1 millisecond' "
                        "WHERE id = (SELECT id FROM notifications "
                        "  WHERE state = 'pending' AND next_attempt <= clock_timestamp() "
                        "    AND (claim_until IS NULL OR claim_until <= clock_timestamp()) "
                        "  ORDER BY next_attempt, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                        "RETURNING {}",
                        kColumns),
            instance_, static_cast<int64_t>(claim_.count()));
        w.commit();
        std::vector<Notification> out;
        for (const pqxx::row& row : r) out.push_back(FromRow(row));
        return out;
      });
}

absl::StatusOr<std::optional<Duration>> PostgresOutbox::NextDueIn(SysTime) {
  return session_->Run(
      "reading when the next notification is due",
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<Duration>> {
        pqxx::read_transaction t(c);
        pqxx::result r = t.exec(
            "SELECT extract(epoch FROM min(greatest(next_attempt, "
            "  coalesce(claim_until, next_attempt))) - clock_timestamp()) "
            "FROM notifications WHERE state = 'pending'");
        if (r[0][0].is_null()) return std::optional<Duration>();
        return std::optional<Duration>(std::max(FromSeconds(r[0][0].as<double>()), Duration(0)));
      });
}

absl::Status PostgresOutbox::MarkDelivered(int64_t id, SysTime) {
  return session_->Run("marking a notification delivered", [&](pqxx::connection& c) {
    pqxx::work w(c);
    pqxx::result r = w.exec_params(
        "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, "
        "  delivered_by = $2, delivered_at = clock_timestamp(), "
        "  claimed_by = NULL, claim_until = NULL "
        "WHERE id = $1 AND state = 'pending' AND claimed_by = $2",
        id, instance_);
    w.commit();
    return Claimed(r, id, "delivered");
  });
}

absl::Status PostgresOutbox::MarkRetry(int64_t id, uint32_t attempts, SysTime,
                                       std::chrono::milliseconds retry_in,
                                       const std::string& error) {
  return session_->Run("marking a notification for retry", [&](pqxx::connection& c) {
    pqxx::work w(c);
    pqxx::result r = w.exec_params(
        "UPDATE notifications SET attempts = greatest(attempts, $3), "
        "  next_attempt = clock_timestamp() + $4 * interval '1 millisecond', last_error = $5, "
        "  claimed_by = NULL, claim_until = NULL "
        "WHERE id = $1 AND state = 'pending' AND claimed_by = $2",
        id, instance_, static_cast<int64_t>(attempts), static_cast<int64_t>(retry_in.count()),
        error);
    w.commit();
    return Claimed(r, id, "for retry");
  });
}

absl::Status PostgresOutbox::MarkFailed(int64_t id, uint32_t attempts, const std::string& error) {
  return session_->Run("marking a notification failed", [&](pqxx::connection& c) {
    pqxx::work w(c);
    pqxx::result r = w.exec_params(
        "UPDATE notifications SET state = 'failed', attempts = greatest(attempts, $3), "
        "  last_error = $4, claimed_by = NULL, claim_until = NULL "
        "WHERE id = $1 AND state = 'pending' AND claimed_by = $2",
        id, instance_, static_cast<int64_t>(attempts), error);
    w.commit();
    return Claimed(r, id, "failed");
  });
}

absl::StatusOr<std::vector<Notification>> PostgresOutbox::WithState(const std::string& state) {
  return session_->Run("listing notifications",
                       [&](pqxx::connection& c) -> absl::StatusOr<std::vector<Notification>> {
                         pqxx::read_transaction t(c);
                         pqxx::result r = t.exec_params(
                             fmt::format("SELECT {} FROM notifications WHERE state = $1 "
                                         "ORDER BY next_attempt, id LIMIT 1000000",
                                         kColumns),
                             state);
                         std::vector<Notification> out;
                         for (const pqxx::row& row : r) out.push_back(FromRow(row));
                         return out;
                       });
}

absl::StatusOr<uint64_t> PostgresOutbox::CountState(const std::string& state) {
  return session_->Run(
      "counting notifications", [&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
        pqxx::read_transaction t(c);
        return t.exec_params("SELECT count(*) FROM notifications WHERE state = $1", state)[0][0]
            .as<uint64_t>();
      });
}

}  // namespace cit::dispatch
