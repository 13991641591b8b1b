#include "dispatch-server/audit/postgres_chain_mirror.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dispatch-server/audit/checkpoint_log.h"

namespace cit::dispatch {
namespace {

// The columns the verifiers read, with the store's names and SQLite's types (PostgreSQL's
// bigint, double precision and bytea hold the same values as INTEGER, REAL and BLOB).
constexpr char kMirrorSchemaSql[] = R"sql(
CREATE TABLE main.records (
  vehicle_id TEXT NOT NULL, seq INTEGER NOT NULL, chain_index INTEGER NOT NULL,
  event_time_ns INTEGER NOT NULL, agent_time_ns INTEGER, agent_monotonic_ns INTEGER NOT NULL,
  agent_boot INTEGER NOT NULL, server_time_ns INTEGER NOT NULL, kind INTEGER NOT NULL,
  lat_deg REAL, lon_deg REAL, body BLOB NOT NULL, hash BLOB NOT NULL,
  PRIMARY KEY (vehicle_id, seq));
CREATE INDEX main.records_by_chain ON records (vehicle_id, chain_index);
CREATE INDEX main.records_by_event_time ON records (vehicle_id, event_time_ns, seq);
CREATE TABLE main.vehicle_seq (vehicle_id TEXT PRIMARY KEY, contiguous_seq INTEGER NOT NULL,
  chain_index INTEGER NOT NULL, head_hash BLOB NOT NULL);
CREATE TABLE main.rejects (vehicle_id TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE main.seq_gaps (vehicle_id TEXT NOT NULL, first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL);
CREATE TABLE main.plan_events (idx INTEGER PRIMARY KEY, run_id TEXT NOT NULL,
  version INTEGER NOT NULL, action INTEGER NOT NULL, actor TEXT NOT NULL,
  time_ns INTEGER NOT NULL, body BLOB NOT NULL, hash BLOB NOT NULL);
CREATE INDEX main.plan_events_by_run ON plan_events (run_id, idx);
CREATE TABLE main.runs (run_id TEXT NOT NULL, version INTEGER NOT NULL,
  vehicle_id TEXT NOT NULL, state INTEGER NOT NULL, proto BLOB NOT NULL,
  PRIMARY KEY (run_id, version));
CREATE TABLE main.alert_events (event_id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL,
  proto BLOB NOT NULL, chain_index INTEGER, hash BLOB);
CREATE INDEX main.alert_events_by_chain ON alert_events (chain_index);
CREATE TABLE main.alerts (alert_id INTEGER PRIMARY KEY, vehicle_id TEXT NOT NULL,
  run_id TEXT NOT NULL, kind INTEGER NOT NULL, subject TEXT NOT NULL, state INTEGER NOT NULL,
  severity INTEGER NOT NULL, event_time_ns INTEGER NOT NULL, proto BLOB NOT NULL);
CREATE INDEX main.alerts_run ON alerts (run_id);
CREATE TABLE main.checkpoints (checkpoint_id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,
  reason TEXT NOT NULL, key_id TEXT NOT NULL, body BLOB NOT NULL, signature BLOB NOT NULL);
CREATE TABLE main.identity_events (idx INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,
  change INTEGER NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
  token_fingerprint TEXT NOT NULL, body BLOB NOT NULL, hash BLOB NOT NULL);
CREATE INDEX main.identity_events_by_name ON identity_events (name, idx);
)sql";

constexpr int64_t kPageRows = 10000;

// How a copied column is read from PostgreSQL (any may be NULL; it stays NULL).
enum class Col { kInt, kReal, kText, kBlob };

// Inserts every row of `rows` with `insert`, column i of a row bound to parameter i + 1.
absl::Status CopyRows(sqlite::Database& db, const pqxx::result& rows, const std::string& insert,
                      const std::vector<Col>& cols) {
  absl::StatusOr<sqlite::Statement> ins = db.Prepare(insert);
  if (!ins.ok()) return ins.status();
  for (const pqxx::row& row : rows) {
    ins->Reset();
    int i = 0;
    for (Col c : cols) {
      const pqxx::field f = row[i];
      const int param = ++i;
      if (f.is_null()) {
        ins->Bind(param, nullptr);
        continue;
      }
      switch (c) {
        case Col::kInt:
          ins->Bind(param, f.as<int64_t>());
          break;
        case Col::kReal:
          ins->Bind(param, f.as<double>());
          break;
        case Col::kText:
          ins->Bind(param, f.as<std::string>());
          break;
        case Col::kBlob:
          ins->Bind(param, sqlite::Blob(pg::Bytes(f)));
          break;
      }
    }
    if (absl::Status s = ins->Run(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The chain positions a walk of `window` may read, as VerifyRecordChainForWindow chooses them on
// the copy: after `after` through `through` (nullopt: the chain's end), and the window's
// neighbours, which it reads to choose them. Neighbours tied in event time are all kept, and the
// widest choice made, so that whichever the copy's query picks, its span lies inside this one.
struct RecordSpan {
  uint64_t after = 0;
  std::optional<uint64_t> through;
  std::vector<int64_t> neighbours;
};

RecordSpan SpanOf(pqxx::transaction_base& t, const std::string& vehicle,
                  const RecordTimeWindow& window, const std::vector<uint64_t>& anchors) {
  RecordSpan span;
  std::optional<uint64_t> low;   // last position that certainly precedes the run
  std::optional<uint64_t> high;  // first position that certainly follows it
  auto neighbours = [&](const char* edge_sql, int64_t edge_ns) {
    std::vector<uint64_t> out;
    for (const pqxx::row& r : t.exec_params(edge_sql, vehicle, edge_ns)) {
      out.push_back(r[0].as<uint64_t>());
      span.neighbours.push_back(r[0].as<int64_t>());
    }
    return out;
  };
  if (window.from_ns) {
    const std::vector<uint64_t> before = neighbours(
        "SELECT chain_index FROM records WHERE vehicle_id = $1 AND event_time_ns = (SELECT "
        "MAX(event_time_ns) FROM records WHERE vehicle_id = $1 AND event_time_ns < $2)",
        *window.from_ns);
    if (!before.empty()) low = *std::min_element(before.begin(), before.end());
  }
  if (window.to_ns) {
    const std::vector<uint64_t> after = neighbours(
        "SELECT chain_index FROM records WHERE vehicle_id = $1 AND event_time_ns = (SELECT "
        "MIN(event_time_ns) FROM records WHERE vehicle_id = $1 AND event_time_ns > $2)",
        *window.to_ns);
    if (!after.empty()) high = *std::max_element(after.begin(), after.end());
  }
  const pqxx::row inside = t.exec_params1(
      "SELECT MIN(chain_index), MAX(chain_index) FROM records WHERE vehicle_id = $1 AND "
      "event_time_ns >= $2 AND event_time_ns <= $3",
      vehicle, window.from_ns.value_or(INT64_MIN), window.to_ns.value_or(INT64_MAX));
  if (!inside[0].is_null()) {
    low = std::min(low.value_or(UINT64_MAX), inside[0].as<uint64_t>() - 1);
    if (high) high = std::max(*high, inside[1].as<uint64_t>());
  }
  const uint64_t first = low.value_or(0);
  for (uint64_t a : anchors) {
    if (a > 0 && a <= first && a > span.after) span.after = a;
    if (high && a >= *high && (!span.through || a < *span.through)) span.through = a;
  }
  return span;
}

constexpr char kRecordColumns[] =
    "vehicle_id, seq, chain_index, event_time_ns, agent_time_ns, agent_monotonic_ns, agent_boot, "
    "server_time_ns, kind, lat_deg, lon_deg, body, hash";
const std::vector<Col> kRecordCols = {Col::kText, Col::kInt,  Col::kInt, Col::kInt, Col::kInt,
                                      Col::kInt,  Col::kInt,  Col::kInt, Col::kInt, Col::kReal,
                                      Col::kReal, Col::kBlob, Col::kBlob};
constexpr char kInsertRecord[] =
    "INSERT OR IGNORE INTO main.records VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
    "?12, ?13)";

// The checkpoints and the identity log (postgres_audit_log.h), once
// their tables exist.
absl::Status CopyAuditLogs(pqxx::transaction_base& t, sqlite::Database& db) {
  if (!t.exec1("SELECT to_regclass('checkpoints') IS NOT NULL")[0].as<bool>()) {
    return absl::OkStatus();
  }
  if (absl::Status s = CopyRows(
          db,
          t.exec("SELECT checkpoint_id, time_ns, reason, key_id, body, signature FROM checkpoints "
                 "ORDER BY checkpoint_id"),
          "INSERT INTO main.checkpoints VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
          {Col::kInt, Col::kInt, Col::kText, Col::kText, Col::kBlob, Col::kBlob});
      !s.ok()) {
    return s;
  }
  return CopyRows(db,
                  t.exec("SELECT idx, time_ns, change, name, role, token_fingerprint, body, hash "
                         "FROM identity_events ORDER BY idx"),
                  "INSERT INTO main.identity_events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                  {Col::kInt, Col::kInt, Col::kInt, Col::kText, Col::kText, Col::kText, Col::kBlob,
                   Col::kBlob});
}

// The lengths of `vehicle_id`'s record chain the copied checkpoints list: where a run's span
// may start and end.
absl::StatusOr<std::vector<uint64_t>> CheckpointedLengths(sqlite::Database& db,
                                                          const std::string& vehicle_id) {
  absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> checkpoints =
      ReadCheckpoints(db, 0, SIZE_MAX);
  if (!checkpoints.ok()) return checkpoints.status();
  std::vector<uint64_t> lengths;
  const std::string chain = absl::StrCat("records/", vehicle_id);
  for (const cit::v1::SignedCheckpoint& c : *checkpoints) {
    for (const cit::v1::ChainHead& h : c.checkpoint().heads()) {
      if (h.chain() == chain) lengths.push_back(h.length());
    }
  }
  return lengths;
}

}  // namespace

absl::Status CreateMirrorTables(sqlite::Database& db) { return db.Exec(kMirrorSchemaSql); }

absl::StatusOr<std::unique_ptr<PostgresChainMirror>> PostgresChainMirror::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  return std::unique_ptr<PostgresChainMirror>(new PostgresChainMirror(*std::move(session)));
}

absl::StatusOr<std::vector<cit::v1::ChainHead>> PostgresChainMirror::Heads() {
  return session_->Run(
      "reading the chain heads",
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<cit::v1::ChainHead>> {
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);
        auto exists = [&](const char* table) {
          return t.exec_params1("SELECT to_regclass($1) IS NOT NULL", std::string(table))[0]
              .as<bool>();
        };
        std::vector<cit::v1::ChainHead> heads;
        if (exists("vehicle_seq")) {
          // Vehicle order as SQLite sorts text (bytes): the "C" collation.
          for (const pqxx::row& r :
               t.exec("SELECT v.vehicle_id, v.chain_index, v.head_hash, v.contiguous_seq, r.seq "
                      "FROM vehicle_seq v LEFT JOIN records r ON r.vehicle_id = v.vehicle_id AND "
                      "r.chain_index = v.chain_index WHERE v.chain_index > 0 "
                      "ORDER BY v.vehicle_id COLLATE \"C\"")) {
            cit::v1::ChainHead h;
            h.set_chain(absl::StrCat("records/", r[0].as<std::string>()));
            h.set_length(r[1].as<uint64_t>());
            h.set_head(pg::Bytes(r[2]));
            h.set_contiguous_seq(r[3].as<uint64_t>());
            h.set_last_seq(r[4].is_null() ? 0 : r[4].as<uint64_t>());
            heads.push_back(std::move(h));
          }
        }
        struct Log {
          const char* chain;
          const char* table;
          const char* sql;
        } logs[] = {
            {"plans", "plan_events", "SELECT idx, hash FROM plan_events ORDER BY idx DESC LIMIT 1"},
            {"alerts", "alert_events",
             "SELECT chain_index, hash FROM alert_events ORDER BY chain_index DESC LIMIT 1"},
            {"identities", "identity_events",
             "SELECT idx, hash FROM identity_events ORDER BY idx DESC LIMIT 1"},
        };
        for (const Log& log : logs) {
          if (!exists(log.table)) continue;
          const pqxx::result r = t.exec(log.sql);
          cit::v1::ChainHead h;
          h.set_chain(log.chain);
          if (r.empty()) {
            h.set_head(std::string(32, '\0'));
          } else {
            h.set_length(r[0][0].as<uint64_t>());
            h.set_head(pg::Bytes(r[0][1]));
          }
          heads.push_back(std::move(h));
        }
        return heads;
      });
}

absl::Status PostgresChainMirror::CopyInto(sqlite::Database& db, const std::string& vehicle_id,
                                           const std::string& run_id,
                                           const RecordTimeWindow* window) {
  return session_->Run("copying the chains to verify", [&](pqxx::connection& c) -> absl::Status {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);
    // The checkpoints first, from the same snapshot as the chains: a checkpoint lists heads
    // committed before it, so every chain copied is at least as long as they say.
    if (absl::Status s = CopyAuditLogs(t, db); !s.ok()) return s;
    if (vehicle_id.empty() && run_id.empty()) return absl::OkStatus();  // the logs only
    RecordSpan span;
    if (window != nullptr) {
      absl::StatusOr<std::vector<uint64_t>> lengths = CheckpointedLengths(db, vehicle_id);
      if (!lengths.ok()) return lengths.status();
      span = SpanOf(t, vehicle_id, *window, *lengths);
    }
    // Page by chain position: a vehicle's history may not fit in memory at once.
    int64_t after = static_cast<int64_t>(span.after);
    const int64_t through = span.through ? static_cast<int64_t>(*span.through) : INT64_MAX;
    while (true) {
      const pqxx::result page =
          t.exec_params(absl::StrCat("SELECT ", kRecordColumns,
                                     " FROM records WHERE vehicle_id = $1 AND chain_index > $2 "
                                     "AND chain_index <= $3 ORDER BY chain_index LIMIT $4"),
                        vehicle_id, after, through, kPageRows);
      if (absl::Status s = CopyRows(db, page, kInsertRecord, kRecordCols); !s.ok()) return s;
      if (page.size() < static_cast<size_t>(kPageRows)) break;
      after = page[page.size() - 1][2].as<int64_t>();
    }
    for (int64_t position : span.neighbours) {
      if (absl::Status s =
              CopyRows(db,
                       t.exec_params(
                           absl::StrCat("SELECT ", kRecordColumns,
                                        " FROM records WHERE vehicle_id = $1 AND chain_index = $2"),
                           vehicle_id, position),
                       kInsertRecord, kRecordCols);
          !s.ok()) {
        return s;
      }
    }
    struct Copy {
      const char* select;
      const char* insert;
      std::vector<Col> cols;
    };
    const Copy vehicle_copies[] = {
        {"SELECT vehicle_id, contiguous_seq, chain_index, head_hash FROM vehicle_seq "
         "WHERE vehicle_id = $1",
         "INSERT INTO main.vehicle_seq VALUES (?1, ?2, ?3, ?4)",
         {Col::kText, Col::kInt, Col::kInt, Col::kBlob}},
        {"SELECT vehicle_id, seq FROM rejects WHERE vehicle_id = $1",
         "INSERT INTO main.rejects VALUES (?1, ?2)",
         {Col::kText, Col::kInt}},
        {"SELECT vehicle_id, first_seq, last_seq FROM seq_gaps WHERE vehicle_id = $1",
         "INSERT INTO main.seq_gaps VALUES (?1, ?2, ?3)",
         {Col::kText, Col::kInt, Col::kInt}},
    };
    for (const Copy& copy : vehicle_copies) {
      if (absl::Status s =
              CopyRows(db, t.exec_params(copy.select, vehicle_id), copy.insert, copy.cols);
          !s.ok()) {
        return s;
      }
    }
    if (run_id.empty()) return absl::OkStatus();
    const Copy log_copies[] = {
        {"SELECT idx, run_id, version, action, actor, time_ns, body, hash FROM plan_events",
         "INSERT INTO main.plan_events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
         {Col::kInt, Col::kText, Col::kInt, Col::kInt, Col::kText, Col::kInt, Col::kBlob,
          Col::kBlob}},
        {"SELECT event_id, alert_id, proto, chain_index, hash FROM alert_events",
         "INSERT INTO main.alert_events VALUES (?1, ?2, ?3, ?4, ?5)",
         {Col::kInt, Col::kInt, Col::kBlob, Col::kInt, Col::kBlob}},
    };
    for (const Copy& copy : log_copies) {
      if (absl::Status s = CopyRows(db, t.exec(copy.select), copy.insert, copy.cols); !s.ok()) {
        return s;
      }
    }
    const Copy run_copies[] = {
        {"SELECT run_id, version, vehicle_id, state, proto FROM runs WHERE run_id = $1",
         "INSERT INTO main.runs VALUES (?1, ?2, ?3, ?4, ?5)",
         {Col::kText, Col::kInt, Col::kText, Col::kInt, Col::kBlob}},
        {"SELECT alert_id, vehicle_id, run_id, kind, subject, state, severity, event_time_ns, "
         "proto FROM alerts WHERE run_id = $1",
         "INSERT INTO main.alerts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
         {Col::kInt, Col::kText, Col::kText, Col::kInt, Col::kText, Col::kInt, Col::kInt, Col::kInt,
          Col::kBlob}},
    };
    for (const Copy& copy : run_copies) {
      if (absl::Status s = CopyRows(db, t.exec_params(copy.select, run_id), copy.insert, copy.cols);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> PostgresChainMirror::LoggedRunVehicle(const std::string& run_id) {
  return session_->Run("reading the plan log",
                       [&](pqxx::connection& c) -> absl::StatusOr<std::string> {
                         pqxx::read_transaction t(c);
                         const pqxx::result r = t.exec_params(
                             "SELECT body FROM plan_events WHERE run_id = $1 ORDER BY idx DESC "
                             "LIMIT 1",
                             run_id);
                         if (r.empty()) return absl::NotFoundError(absl::StrCat("run ", run_id));
                         cit::v1::PlanEvent e;
                         if (!e.ParseFromString(pg::Bytes(r[0][0]))) {
                           return absl::DataLossError("plan_events: unparsable stored row");
                         }
                         return e.run().plan().vehicle_id();
                       });
}

}  // namespace cit::dispatch
