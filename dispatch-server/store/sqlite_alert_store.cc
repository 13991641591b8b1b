#include "dispatch-server/store/sqlite_alert_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>

namespace cit::dispatch {
namespace {

constexpr sqlite::Migration kAlertMigrations[] = {
    {1, "alerts and alert events",
     R"sql(
CREATE TABLE alerts (
  alert_id   INTEGER PRIMARY KEY,
  vehicle_id TEXT NOT NULL,
  run_id     TEXT NOT NULL,
  kind       INTEGER NOT NULL,
  subject    TEXT NOT NULL,
  state      INTEGER NOT NULL,
  severity   INTEGER NOT NULL,
  event_time_ns INTEGER NOT NULL,
  proto      BLOB NOT NULL
);
CREATE INDEX alerts_vehicle ON alerts (vehicle_id, state);
CREATE INDEX alerts_run ON alerts (run_id);
CREATE TABLE alert_events (
  event_id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL,
  proto    BLOB NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id);
)sql"},
    {2, "alert and event id reservations (ids are shown before they are stored)",
     R"sql(
CREATE TABLE alert_id_reservation (
  singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
  alert_id_through INTEGER NOT NULL,
  event_id_through INTEGER NOT NULL
);
)sql"},
    {3, "alert events: chain position and hash", kAlertChainColumnsSql},
    {4, "alert events: append-only, every event chained", kAlertChainSealSql},
};
// Events stored before the chain are chained between these two steps.
constexpr size_t kBeforeSeal = 3;

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteAlertStore>> SqliteAlertStore::Open(
    const std::filesystem::path& path, sqlite::Durability durability) {
  sqlite::OpenOptions options;
  options.durability = durability;
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path, options);
  if (!db.ok()) return db.status();
  absl::StatusOr<int> version = sqlite::SchemaVersion(**db, "alerts");
  if (!version.ok()) return version.status();
  if (*version < static_cast<int>(kBeforeSeal) + 1) {
    // Up to the chain columns, chain what is stored, then the triggers.
    if (absl::Status s = sqlite::ApplyMigrations(
            **db, "alerts", std::span<const sqlite::Migration>(kAlertMigrations, kBeforeSeal));
        !s.ok()) {
      return s;
    }
    absl::StatusOr<uint64_t> sealed = SealUnchainedAlertEvents(**db);
    if (!sealed.ok()) return sealed.status();
    if (*sealed > 0) spdlog::warn("event=alert_events_chained_at_upgrade events={}", *sealed);
  }
  if (absl::Status s = sqlite::ApplyMigrations(**db, "alerts", kAlertMigrations); !s.ok()) {
    return s;
  }
  std::unique_ptr<SqliteAlertStore> store(new SqliteAlertStore(std::move(*db)));
  absl::StatusOr<AlertChainHead> head = LoadAlertChainHead(*store->db_);
  if (!head.ok()) return head.status();
  store->head_ = *std::move(head);
  if (absl::Status s = store->PrepareStatements(); !s.ok()) return s;
  return store;
}

absl::Status SqliteAlertStore::PrepareStatements() {
  auto upsert = db_->Prepare(
      "INSERT INTO alerts (alert_id, vehicle_id, run_id, kind, subject, state, severity, "
      "event_time_ns, proto) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
      "ON CONFLICT (alert_id) DO UPDATE SET run_id = ?3, state = ?6, severity = ?7, proto = ?9");
  if (!upsert.ok()) return upsert.status();
  upsert_alert_ = std::move(*upsert);
  auto insert = db_->Prepare(
      "INSERT INTO alert_events (event_id, alert_id, proto, chain_index, hash) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!insert.ok()) return insert.status();
  insert_event_ = std::move(*insert);
  auto after =
      db_->Prepare("SELECT proto FROM alert_events WHERE event_id > ?1 ORDER BY event_id LIMIT ?2");
  if (!after.ok()) return after.status();
  events_after_ = std::move(*after);
  return absl::OkStatus();
}

absl::Status SqliteAlertStore::Append(std::span<const cit::v1::AlertEvent> events,
                                      std::vector<FencedEvent>* /*fenced*/) {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  AlertChainHead head = head_;
  for (const cit::v1::AlertEvent& event : events) {
    if (absl::Status s = AppendOne(event, head); !s.ok()) return s;
  }
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  head_ = std::move(head);
  return absl::OkStatus();
}

absl::Status SqliteAlertStore::AppendOne(const cit::v1::AlertEvent& event, AlertChainHead& head) {
  const cit::v1::Alert& a = event.alert();
  const std::string alert_bytes = a.SerializeAsString();
  const std::string event_bytes = event.SerializeAsString();
  upsert_alert_.Reset()
      .Bind(1, a.alert_id())
      .Bind(2, a.vehicle_id())
      .Bind(3, a.run_id())
      .Bind(4, static_cast<int>(a.kind()))
      .Bind(5, a.subject())
      .Bind(6, static_cast<int>(a.state()))
      .Bind(7, static_cast<int>(a.severity()))
      .Bind(8, Nanos(a.event_time()))
      .Bind(9, sqlite::Blob(alert_bytes));
  if (absl::Status s = upsert_alert_.Run(); !s.ok()) return s;
  const uint64_t index = head.length + 1;
  // A failed hash fails the whole group (rolled back); the persister retries it.
  absl::StatusOr<std::string> hash =
      AlertEventHash(head.head, index, event.event_id(), event_bytes);
  if (!hash.ok()) return hash.status();
  insert_event_.Reset()
      .Bind(1, event.event_id())
      .Bind(2, a.alert_id())
      .Bind(3, sqlite::Blob(event_bytes))
      .Bind(4, index)
      .Bind(5, sqlite::Blob(*hash));
  if (absl::Status s = insert_event_.Run(); !s.ok()) return s;
  head.length = index;
  head.head = *std::move(hash);
  return absl::OkStatus();
}

absl::StatusOr<AlertStore::IdBlocks> SqliteAlertStore::ReserveIds(uint64_t alert_ids,
                                                                  uint64_t event_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  // An immediate transaction: one writer of the file at a time, so a block read back is ours.
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  if (absl::Status s = db_->Exec(
          "INSERT INTO alert_id_reservation (singleton, alert_id_through, event_id_through) "
          "VALUES (1, 0, 0) ON CONFLICT (singleton) DO NOTHING");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<sqlite::Statement> take = db_->Prepare(
      "UPDATE alert_id_reservation SET alert_id_through = MAX(alert_id_through, (SELECT "
      "COALESCE(MAX(alert_id), 0) FROM alerts)) + ?1, event_id_through = MAX(event_id_through, "
      "(SELECT COALESCE(MAX(event_id), 0) FROM alert_events)) + ?2 WHERE singleton = 1");
  if (!take.ok()) return take.status();
  take->Bind(1, alert_ids).Bind(2, event_ids);
  if (absl::Status s = take->Run(); !s.ok()) return s;
  absl::StatusOr<sqlite::Statement> read =
      db_->Prepare("SELECT alert_id_through, event_id_through FROM alert_id_reservation");
  if (!read.ok()) return read.status();
  absl::StatusOr<bool> row = read->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError("alert_id_reservation: no row after reserving");
  IdBlocks block;
  block.alert_last = static_cast<uint64_t>(read->ColumnInt64(0));
  block.alert_first = block.alert_last - alert_ids + 1;
  block.event_last = static_cast<uint64_t>(read->ColumnInt64(1));
  block.event_first = block.event_last - event_ids + 1;
  read->Reset();  // the statement ends before COMMIT
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  return block;
}

absl::StatusOr<AlertStore::Snapshot> SqliteAlertStore::Load(size_t recent_events) {
  std::lock_guard<std::mutex> lock(mu_);
  Snapshot snap;
  auto alerts = db_->Prepare("SELECT proto FROM alerts ORDER BY alert_id");
  if (!alerts.ok()) return alerts.status();
  while (true) {
    absl::StatusOr<bool> row = alerts->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::Alert a;
    if (!a.ParseFromString(alerts->ColumnBlob(0))) {
      return absl::DataLossError("alerts: unparsable stored alert");
    }
    snap.alerts.push_back(std::move(a));
  }
  auto events = db_->Prepare(
      "SELECT proto FROM (SELECT chain_index, proto FROM alert_events ORDER BY chain_index DESC "
      "LIMIT ?1) ORDER BY chain_index");
  if (!events.ok()) return events.status();
  events->Bind(1, static_cast<int64_t>(recent_events));
  while (true) {
    absl::StatusOr<bool> row = events->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::AlertEvent e;
    if (!e.ParseFromString(events->ColumnBlob(0))) {
      return absl::DataLossError("alert_events: unparsable stored event");
    }
    snap.recent_events.push_back(std::move(e));
  }
  auto last = db_->Prepare(
      "SELECT COALESCE(MAX(event_id), 0), COALESCE(MAX(chain_index), 0) FROM alert_events");
  if (!last.ok()) return last.status();
  if (absl::StatusOr<bool> row = last->Step(); !row.ok()) return row.status();
  snap.last_event_id = static_cast<uint64_t>(last->ColumnInt64(0));
  snap.log_position = static_cast<uint64_t>(last->ColumnInt64(1));
  auto reserved =
      db_->Prepare("SELECT alert_id_through, event_id_through FROM alert_id_reservation");
  if (!reserved.ok()) return reserved.status();
  absl::StatusOr<bool> row = reserved->Step();
  if (!row.ok()) return row.status();
  if (*row) {
    snap.reserved_alert_id = static_cast<uint64_t>(reserved->ColumnInt64(0));
    snap.reserved_event_id = static_cast<uint64_t>(reserved->ColumnInt64(1));
  }
  return snap;
}

absl::StatusOr<std::vector<cit::v1::AlertEvent>> SqliteAlertStore::EventsAfter(
    uint64_t after_event_id, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<cit::v1::AlertEvent> out;
  events_after_.Reset().Bind(1, after_event_id).Bind(2, static_cast<int64_t>(limit));
  while (true) {
    absl::StatusOr<bool> row = events_after_.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::AlertEvent e;
    if (!e.ParseFromString(events_after_.ColumnBlob(0))) {
      return absl::DataLossError("alert_events: unparsable stored event");
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<AlertStore::LoggedEvent>> SqliteAlertStore::EventsAfterPosition(
    uint64_t after_position, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT chain_index, proto FROM alert_events WHERE chain_index > ?1 ORDER BY chain_index "
      "LIMIT ?2");
  if (!q.ok()) return q.status();
  q->Bind(1, after_position).Bind(2, static_cast<int64_t>(limit));
  std::vector<LoggedEvent> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    LoggedEvent& e = out.emplace_back();
    e.position = static_cast<uint64_t>(q->ColumnInt64(0));
    if (!e.event.ParseFromString(q->ColumnBlob(1))) {
      return absl::DataLossError("alert_events: unparsable stored event");
    }
  }
  return out;
}

absl::StatusOr<std::vector<cit::v1::AlertEvent>> SqliteAlertStore::EventsOfAlerts(
    std::span<const uint64_t> alert_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT chain_index, proto FROM alert_events WHERE alert_id = ?1");
  if (!q.ok()) return q.status();
  std::vector<std::pair<uint64_t, std::string>> rows;
  for (uint64_t id : alert_ids) {
    q->Reset().Bind(1, id);
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      rows.emplace_back(static_cast<uint64_t>(q->ColumnInt64(0)), q->ColumnBlob(1));
    }
  }
  std::sort(rows.begin(), rows.end());
  std::vector<cit::v1::AlertEvent> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!out[i].ParseFromString(rows[i].second)) {
      return absl::DataLossError("alert_events: unparsable stored event");
    }
  }
  return out;
}

}  // namespace cit::dispatch
