#include "dispatch-server/store/postgres_alert_store.h"

#include <fmt/format.h>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dispatch-server/store/postgres_alert_fence.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

const std::string kAlertsSchemaSql = absl::StrCat(pg::kServerRoleSql, pg::kAppendOnlySql, R"sql(
CREATE TABLE alerts (
  alert_id      bigint  PRIMARY KEY,
  vehicle_id    text    NOT NULL,
  run_id        text    NOT NULL,
  kind          integer NOT NULL,
  subject       text    NOT NULL,
  state         integer NOT NULL,
  severity      integer NOT NULL,
  event_time_ns bigint  NOT NULL,
  proto         bytea   NOT NULL   -- the alert's latest state
);
CREATE INDEX alerts_vehicle ON alerts (vehicle_id, state);
CREATE INDEX alerts_run ON alerts (run_id);
CREATE TABLE alert_events (
  event_id    bigint PRIMARY KEY,
  alert_id    bigint NOT NULL,
  proto       bytea  NOT NULL,                          -- AlertEvent, as hashed
  chain_index bigint NOT NULL UNIQUE CHECK (chain_index > 0),
  hash        bytea  NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id);
-- Ids may be shown before they are stored: the highest handed out survives a crash.
CREATE TABLE alert_id_reservation (
  singleton        integer PRIMARY KEY CHECK (singleton = 1),
  alert_id_through bigint  NOT NULL,
  event_id_through bigint  NOT NULL
);
REVOKE ALL ON alerts, alert_events, alert_id_reservation FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON alerts, alert_id_reservation TO citwatch_server;
GRANT SELECT, INSERT ON alert_events TO citwatch_server;
)sql",
                                                  pg::AppendOnlyTriggersSql("alert_events"));

// Several instances on one database (issue 15 §3): the reservation row always exists (every
// block is taken by one UPDATE of it), and every append first locks the row of
// alert_log_writer, so appends from several instances extend one chain one after the other.
constexpr char kSeveralWritersSql[] = R"sql(
INSERT INTO alert_id_reservation (singleton, alert_id_through, event_id_through)
  VALUES (1, 0, 0) ON CONFLICT (singleton) DO NOTHING;
CREATE TABLE alert_log_writer (
  singleton integer PRIMARY KEY CHECK (singleton = 1)
);
INSERT INTO alert_log_writer VALUES (1);
REVOKE ALL ON alert_log_writer FROM PUBLIC;
GRANT SELECT, UPDATE ON alert_log_writer TO citwatch_server;
)sql";

// One instance escalates at a time (alerts/escalation_lease.h): the lease row, taken when it
// expired, renewed by its holder; the token grows at every change of holder. "-infinity": free.
constexpr char kEscalationLeaseSql[] = R"sql(
CREATE TABLE escalation_lease (
  singleton  integer     PRIMARY KEY CHECK (singleton = 1),
  holder     text        NOT NULL,
  token      bigint      NOT NULL,
  expires_at timestamptz NOT NULL
);
INSERT INTO escalation_lease VALUES (1, '', 0, '-infinity');
REVOKE ALL ON escalation_lease FROM PUBLIC;
GRANT SELECT, UPDATE ON escalation_lease TO citwatch_server;
)sql";

// Released versions are never edited.
const pg::Migration kMigrations[] = {
    {1, "alerts, the append-only hash-chained alert events, id reservation", kAlertsSchemaSql},
    {2, "alerts from several instances: the reservation row, the alert-log writer lock",
     kSeveralWritersSql},
    {3, "one escalating instance at a time: the escalation lease", kEscalationLeaseSql},
};

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

// The lifecycle only moves forward (open, acknowledged, resolved): a change another instance
// made to the alert before it saw an operator's action there (e.g. its monitor updating the alert
// while it was acknowledged elsewhere) does not turn the current-state row back. The event log
// keeps both changes.
void UpsertAlert(pqxx::work& w, const cit::v1::Alert& a) {
  w.exec_params(
      "INSERT INTO alerts (alert_id, vehicle_id, run_id, kind, subject, state, severity, "
      "event_time_ns, proto) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (alert_id) "
      "DO UPDATE SET run_id = $3, state = $6, severity = $7, proto = $9 "
      "WHERE alerts.state <= $6",
      static_cast<int64_t>(a.alert_id()), a.vehicle_id(), a.run_id(), static_cast<int>(a.kind()),
      a.subject(), static_cast<int>(a.state()), static_cast<int>(a.severity()),
      Nanos(a.event_time()), pqxx::binarystring(a.SerializeAsString()));
}

// Waits for the alert-log writer lock (held until COMMIT or ROLLBACK), then reads the chain
// head as committed by the previous holder: READ COMMITTED takes a new snapshot per statement.
AlertChainHead LockChainHead(pqxx::work& w) {
  w.exec("SELECT singleton FROM alert_log_writer WHERE singleton = 1 FOR UPDATE");
  pqxx::result r =
      w.exec("SELECT chain_index, hash FROM alert_events ORDER BY chain_index DESC LIMIT 1");
  return r.empty() ? AlertChainHead{0, kChainGenesis}
                   : AlertChainHead{r[0][0].as<uint64_t>(), pg::Bytes(r[0][1])};
}

// Appends one event at head.length + 1 and advances `head`.
absl::Status InsertEvent(pqxx::work& w, const cit::v1::AlertEvent& event, AlertChainHead& head) {
  const std::string body = event.SerializeAsString();
  const uint64_t index = head.length + 1;
  absl::StatusOr<std::string> hash = AlertEventHash(head.head, index, event.event_id(), body);
  if (!hash.ok()) return hash.status();  // the group is rolled back; the persister retries
  w.exec_params(
      "INSERT INTO alert_events (event_id, alert_id, proto, chain_index, hash) "
      "VALUES ($1, $2, $3, $4, $5)",
      static_cast<int64_t>(event.event_id()), static_cast<int64_t>(event.alert().alert_id()),
      pqxx::binarystring(body), static_cast<int64_t>(index), pqxx::binarystring(*hash));
  head = AlertChainHead{index, *std::move(hash)};
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresAlertStore>> PostgresAlertStore::Open(
    const std::string& conninfo, std::string instance) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  absl::Status migrated = (*session)->Run("migrating alerts", [](pqxx::connection& c) {
    return pg::ApplyMigrations(c, "alerts", kMigrations);
  });
  if (!migrated.ok()) return migrated;
  return std::unique_ptr<PostgresAlertStore>(
      new PostgresAlertStore(*std::move(session), std::move(instance)));
}

absl::Status PostgresAlertStore::Append(std::span<const cit::v1::AlertEvent> events,
                                        std::vector<FencedEvent>* fenced) {
  return session_->Run("storing alert events", [&](pqxx::connection& c) {
    pqxx::work w(c);
    // The lock first: the alerts rows below are then written by one instance at a time too.
    AlertChainHead head = LockChainHead(w);
    std::vector<FencedEvent> left_out = FencedEvents(w, instance_, events);
    size_t next_left_out = 0;  // both in event order
    for (const cit::v1::AlertEvent& event : events) {
      if (next_left_out < left_out.size() && left_out[next_left_out].event_id == event.event_id()) {
        ++next_left_out;
        continue;
      }
      UpsertAlert(w, event.alert());
      if (absl::Status s = InsertEvent(w, event, head); !s.ok()) return s;
    }
    w.commit();  // synchronous_commit = on: durable when this returns
    if (fenced != nullptr) *fenced = std::move(left_out);
    return absl::OkStatus();
  });
}

absl::StatusOr<AlertStore::IdBlocks> PostgresAlertStore::ReserveIds(uint64_t alert_ids,
                                                                    uint64_t event_ids) {
  return session_->Run("reserving alert ids", [&](pqxx::connection& c) -> absl::StatusOr<IdBlocks> {
    pqxx::work w(c);
    // The UPDATE locks the one row: a concurrent reservation waits, then adds to what this one
    // committed, so blocks never overlap. The stored ids are a floor (a database whose
    // reservation fell behind them).
    pqxx::result r = w.exec_params(
        "UPDATE alert_id_reservation SET "
        "alert_id_through = GREATEST(alert_id_through, "
        "(SELECT COALESCE(max(alert_id), 0) FROM alerts)) + $1, "
        "event_id_through = GREATEST(event_id_through, "
        "(SELECT COALESCE(max(event_id), 0) FROM alert_events)) + $2 "
        "WHERE singleton = 1 RETURNING alert_id_through, event_id_through",
        static_cast<int64_t>(alert_ids), static_cast<int64_t>(event_ids));
    if (r.empty()) {
      return absl::FailedPreconditionError(
          "alert_id_reservation has no row: migrate the alerts schema (version 2) with the "
          "owner's role");
    }
    w.commit();
    IdBlocks block;
    block.alert_last = r[0][0].as<uint64_t>();
    block.alert_first = block.alert_last - alert_ids + 1;
    block.event_last = r[0][1].as<uint64_t>();
    block.event_first = block.event_last - event_ids + 1;
    return block;
  });
}

absl::StatusOr<AlertStore::Snapshot> PostgresAlertStore::Load(size_t recent_events) {
  return session_->Run("loading alerts", [&](pqxx::connection& c) -> absl::StatusOr<Snapshot> {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);  // one snapshot
    Snapshot snap;
    auto alerts = pg::ParseRows<cit::v1::Alert>(
        t.exec("SELECT proto FROM alerts ORDER BY alert_id"), "alerts");
    if (!alerts.ok()) return alerts.status();
    snap.alerts = *std::move(alerts);
    auto events = pg::ParseRows<cit::v1::AlertEvent>(
        t.exec_params("SELECT proto FROM (SELECT chain_index, proto FROM alert_events ORDER BY "
                      "chain_index DESC LIMIT $1) newest ORDER BY chain_index",
                      static_cast<int64_t>(recent_events)),
        "alert_events");
    if (!events.ok()) return events.status();
    snap.recent_events = *std::move(events);
    pqxx::result last = t.exec(
        "SELECT COALESCE(max(event_id), 0), COALESCE(max(chain_index), 0) FROM alert_events");
    snap.last_event_id = last[0][0].as<uint64_t>();
    snap.log_position = last[0][1].as<uint64_t>();
    pqxx::result reserved =
        t.exec("SELECT alert_id_through, event_id_through FROM alert_id_reservation");
    if (!reserved.empty()) {
      snap.reserved_alert_id = reserved[0][0].as<uint64_t>();
      snap.reserved_event_id = reserved[0][1].as<uint64_t>();
    }
    return snap;
  });
}

absl::StatusOr<std::vector<cit::v1::AlertEvent>> PostgresAlertStore::EventsAfter(
    uint64_t after_event_id, size_t limit) {
  return session_->Run("reading alert events", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    return pg::ParseRows<cit::v1::AlertEvent>(
        t.exec_params("SELECT proto FROM alert_events WHERE event_id > $1 ORDER BY event_id "
                      "LIMIT $2",
                      static_cast<int64_t>(after_event_id), static_cast<int64_t>(limit)),
        "alert_events");
  });
}

absl::StatusOr<std::vector<AlertStore::LoggedEvent>> PostgresAlertStore::EventsAfterPosition(
    uint64_t after_position, size_t limit) {
  return session_->Run("reading alert events of other instances",
                       [&](pqxx::connection& c) -> absl::StatusOr<std::vector<LoggedEvent>> {
                         pqxx::read_transaction t(c);
                         pqxx::result rows = t.exec_params(
                             "SELECT chain_index, proto FROM alert_events WHERE chain_index > $1 "
                             "ORDER BY chain_index LIMIT $2",
                             static_cast<int64_t>(after_position), static_cast<int64_t>(limit));
                         std::vector<LoggedEvent> out(rows.size());
                         for (size_t i = 0; i < rows.size(); ++i) {
                           const pqxx::row r = rows[i];
                           out[i].position = r[0].as<uint64_t>();
                           if (!out[i].event.ParseFromString(pg::Bytes(r[1]))) {
                             return absl::DataLossError("alert_events: unparsable stored row");
                           }
                         }
                         return out;
                       });
}

absl::StatusOr<std::vector<cit::v1::AlertEvent>> PostgresAlertStore::EventsOfAlerts(
    std::span<const uint64_t> alert_ids) {
  if (alert_ids.empty()) return std::vector<cit::v1::AlertEvent>{};
  // libpqxx 6 binds no arrays: the ids (integers, nothing to quote) go into the text.
  const std::string sql =
      fmt::format("SELECT proto FROM alert_events WHERE alert_id IN ({}) ORDER BY chain_index",
                  absl::StrJoin(alert_ids, ","));
  return session_->Run("reading alert events", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    return pg::ParseRows<cit::v1::AlertEvent>(t.exec(sql), "alert_events");
  });
}

absl::StatusOr<ChainReport> PostgresAlertStore::VerifyChain(std::vector<ChainAnchor> anchors) {
  return session_->Run("verifying the alert-event chain",
                       [&](pqxx::connection& c) -> absl::StatusOr<ChainReport> {
                         // One snapshot for the whole walk, read in pages.
                         pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);
                         constexpr int64_t kPage = 1000;
                         pqxx::result page;
                         size_t at = 0;
                         int64_t after = 0;
                         return VerifyAlertChainRows(
                             [&](AlertChainRow& row) -> absl::StatusOr<bool> {
                               if (at == page.size()) {
                                 page = t.exec_params(
                                     "SELECT chain_index, event_id, alert_id, proto, hash FROM "
                                     "alert_events WHERE chain_index > $1 ORDER BY chain_index "
                                     "LIMIT $2",
                                     after, kPage);
                                 at = 0;
                                 if (page.empty()) return false;
                               }
                               const pqxx::row r = page[at++];
                               after = r[0].as<int64_t>();
                               row.chain_index = r[0].as<uint64_t>();
                               row.event_id = r[1].as<uint64_t>();
                               row.alert_id = r[2].as<uint64_t>();
                               row.body = pg::Bytes(r[3]);
                               row.hash = pg::Bytes(r[4]);
                               return true;
                             },
                             std::move(anchors));
                       });
}

}  // namespace cit::dispatch
