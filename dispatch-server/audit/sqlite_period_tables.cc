#include "dispatch-server/audit/sqlite_period_tables.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <string>
#include <utility>

namespace cit::dispatch {
namespace {

using google::protobuf::util::TimeUtil;

// Released versions are never edited.
constexpr sqlite::Migration kReportMigrations[] = {
    {1, "period report: run periods, run summaries, stop outcomes; alerts by event time",
     R"sql(
CREATE TABLE report_runs (
  run_id     TEXT    PRIMARY KEY,
  version    INTEGER NOT NULL,
  state      INTEGER NOT NULL,  -- cit.v1.RunState
  vehicle_id TEXT    NOT NULL,
  start_ns   INTEGER NOT NULL   -- planned start, or creation time without one
) WITHOUT ROWID;
CREATE INDEX report_runs_by_start ON report_runs (start_ns, vehicle_id);
CREATE TABLE report_run_summaries (
  run_id      TEXT    PRIMARY KEY,
  version     INTEGER NOT NULL,
  state       INTEGER NOT NULL,
  off_route_m REAL    NOT NULL,
  off_route_s REAL    NOT NULL,
  records     INTEGER NOT NULL,
  fixes       INTEGER NOT NULL,
  gaps        INTEGER NOT NULL,
  gap_s       REAL    NOT NULL,
  delayed     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE report_stops (
  run_id  TEXT    NOT NULL,
  idx     INTEGER NOT NULL,
  site    TEXT    NOT NULL,
  outcome INTEGER NOT NULL,  -- StopOutcome (period_run_summary.h)
  delta_s REAL    NOT NULL,
  bucket  INTEGER NOT NULL,
  PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alerts_by_event_time ON alerts (event_time_ns);
)sql"},
};

constexpr int kStateCompleted = cit::v1::RUN_STATE_COMPLETED;
constexpr int kStateAborted = cit::v1::RUN_STATE_ABORTED;

// " AND <column> IN (?3, ?4, ...)" for the request's vehicles (from and to are ?1 and ?2).
std::string VehicleFilter(const cit::v1::PeriodReportRequest& req, std::string_view column) {
  if (req.vehicle_ids().empty()) return "";
  std::string sql = fmt::format(" AND {} IN (", column);
  for (int i = 0; i < req.vehicle_ids_size(); ++i) sql += fmt::format("{}?{}", i ? "," : "", i + 3);
  return sql + ")";
}

absl::StatusOr<sqlite::Statement> PreparePeriod(sqlite::Database& db, const std::string& sql,
                                                const cit::v1::PeriodReportRequest& req) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(sql);
  if (!q.ok()) return q.status();
  q->Bind(1, TimeUtil::TimestampToNanoseconds(req.from()))
      .Bind(2, TimeUtil::TimestampToNanoseconds(req.to()));
  for (int i = 0; i < req.vehicle_ids_size(); ++i) q->Bind(i + 3, req.vehicle_ids(i));
  return q;
}

// Each row of `q` to `fn`.
template <typename Fn>
absl::Status ForEachRow(sqlite::Statement& q, Fn&& fn) {
  while (true) {
    absl::StatusOr<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
    if (absl::Status s = fn(); !s.ok()) return s;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqlitePeriodTables>> SqlitePeriodTables::Open(
    const std::filesystem::path& db_path) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(db_path);
  if (!db.ok()) return db.status();
  if (absl::Status s = sqlite::ApplyMigrations(**db, "period_report", kReportMigrations); !s.ok()) {
    return s;
  }
  return std::unique_ptr<SqlitePeriodTables>(new SqlitePeriodTables(*std::move(db)));
}

absl::Status SqlitePeriodTables::SyncRuns() {
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "SELECT r.run_id, r.proto FROM runs r LEFT JOIN report_runs p ON p.run_id = r.run_id "
      "WHERE r.version = (SELECT MAX(version) FROM runs x WHERE x.run_id = r.run_id) "
      "AND (p.run_id IS NULL OR p.version <> r.version OR p.state <> r.state)");
  if (!q.ok()) return q.status();
  std::vector<cit::v1::Run> changed;
  absl::Status read = ForEachRow(*q, [&]() -> absl::Status {
    cit::v1::Run run;
    if (!run.ParseFromString(q->ColumnBlob(1))) {
      return absl::DataLossError("stored run " + q->ColumnText(0) + " does not parse");
    }
    changed.push_back(std::move(run));
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (changed.empty()) return absl::OkStatus();
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  absl::StatusOr<sqlite::Statement> put = db_->Prepare(
      "INSERT OR REPLACE INTO report_runs (run_id, version, state, vehicle_id, start_ns) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!put.ok()) return put.status();
  for (const cit::v1::Run& run : changed) {
    put->Reset()
        .Bind(1, run.plan().run_id())
        .Bind(2, run.version())
        .Bind(3, static_cast<int>(run.state()))
        .Bind(4, run.plan().vehicle_id())
        .Bind(5, ReportStartNs(run));
    if (absl::Status s = put->Run(); !s.ok()) return s;
  }
  return tx.Commit();
}

absl::StatusOr<std::vector<cit::v1::Run>> SqlitePeriodTables::UnsummarisedRuns(
    const cit::v1::PeriodReportRequest& req, std::size_t limit) {
  absl::StatusOr<sqlite::Statement> q = PreparePeriod(
      *db_,
      fmt::format("SELECT r.proto FROM report_runs p "
                  "JOIN runs r ON r.run_id = p.run_id AND r.version = p.version "
                  "LEFT JOIN report_run_summaries s ON s.run_id = p.run_id "
                  "WHERE p.start_ns >= ?1 AND p.start_ns < ?2{} AND p.state IN ({}, {}) "
                  "AND (s.run_id IS NULL OR s.version <> p.version OR s.state <> p.state){}",
                  VehicleFilter(req, "p.vehicle_id"), kStateCompleted, kStateAborted,
                  limit > 0 ? fmt::format(" LIMIT {}", limit) : std::string()),
      req);
  if (!q.ok()) return q.status();
  std::vector<cit::v1::Run> runs;
  absl::Status read = ForEachRow(*q, [&]() -> absl::Status {
    cit::v1::Run run;
    if (!run.ParseFromString(q->ColumnBlob(0))) return absl::DataLossError("a run does not parse");
    runs.push_back(std::move(run));
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return runs;
}

absl::Status SqlitePeriodTables::StoreSummary(const cit::v1::Run& run,
                                              const PeriodRunSummary& summary) {
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  absl::StatusOr<sqlite::Statement> put = db_->Prepare(
      "INSERT OR REPLACE INTO report_run_summaries (run_id, version, state, off_route_m, "
      "off_route_s, records, fixes, gaps, gap_s, delayed) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!put.ok()) return put.status();
  put->Bind(1, run.plan().run_id())
      .Bind(2, run.version())
      .Bind(3, static_cast<int>(run.state()))
      .Bind(4, summary.off_route_m)
      .Bind(5, summary.off_route_s)
      .Bind(6, summary.records)
      .Bind(7, summary.fixes)
      .Bind(8, summary.gaps)
      .Bind(9, summary.gap_s)
      .Bind(10, summary.delayed_records);
  if (absl::Status s = put->Run(); !s.ok()) return s;
  absl::StatusOr<sqlite::Statement> del =
      db_->Prepare("DELETE FROM report_stops WHERE run_id = ?1");
  if (!del.ok()) return del.status();
  if (absl::Status s = del->Bind(1, run.plan().run_id()).Run(); !s.ok()) return s;
  absl::StatusOr<sqlite::Statement> stop = db_->Prepare(
      "INSERT INTO report_stops (run_id, idx, site, outcome, delta_s, bucket) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!stop.ok()) return stop.status();
  for (std::size_t i = 0; i < summary.stops.size(); ++i) {
    const StopSummary& st = summary.stops[i];
    stop->Reset()
        .Bind(1, run.plan().run_id())
        .Bind(2, static_cast<int64_t>(i))
        .Bind(3, st.site)
        .Bind(4, static_cast<int>(st.outcome))
        .Bind(5, st.delta_s)
        .Bind(6, st.bucket);
    if (absl::Status s = stop->Run(); !s.ok()) return s;
  }
  return tx.Commit();
}

absl::StatusOr<PeriodRows> SqlitePeriodTables::Read(const cit::v1::PeriodReportRequest& req) {
  // One read transaction: every figure comes from the same state of the store.
  if (absl::Status s = db_->Exec("BEGIN"); !s.ok()) return s;
  PeriodRows out;
  absl::Status s = ReadRuns(req, out);
  if (s.ok()) s = ReadStops(req, out);
  if (s.ok()) s = ReadAlerts(req, out);
  if (s.ok()) s = ReadCompleteness(req, out);
  (void)db_->Exec("COMMIT");
  if (!s.ok()) return s;
  return out;
}

absl::Status SqlitePeriodTables::ReadRuns(const cit::v1::PeriodReportRequest& req,
                                          PeriodRows& out) {
  const std::string where =
      "WHERE start_ns >= ?1 AND start_ns < ?2" + VehicleFilter(req, "vehicle_id");
  absl::StatusOr<sqlite::Statement> q = PreparePeriod(
      *db_, "SELECT state, COUNT(*) FROM report_runs " + where + " GROUP BY state", req);
  if (!q.ok()) return q.status();
  absl::Status read = ForEachRow(*q, [&] {
    out.runs_by_state.push_back(
        {static_cast<int>(q->ColumnInt64(0)), static_cast<std::uint64_t>(q->ColumnInt64(1))});
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  q = PreparePeriod(*db_, "SELECT COUNT(DISTINCT vehicle_id) FROM report_runs " + where, req);
  if (!q.ok()) return q.status();
  if (absl::StatusOr<bool> row = q->Step(); !row.ok()) return row.status();
  out.vehicles = static_cast<std::uint64_t>(q->ColumnInt64(0));
  return absl::OkStatus();
}

absl::Status SqlitePeriodTables::ReadStops(const cit::v1::PeriodReportRequest& req,
                                           PeriodRows& out) {
  absl::StatusOr<sqlite::Statement> q = PreparePeriod(
      *db_,
      fmt::format("SELECT t.site, t.outcome, t.bucket, COUNT(*) FROM report_runs p "
                  "JOIN report_stops t ON t.run_id = p.run_id "
                  "WHERE p.start_ns >= ?1 AND p.start_ns < ?2{} AND p.state IN ({}, {}) "
                  "GROUP BY t.site, t.outcome, t.bucket",
                  VehicleFilter(req, "p.vehicle_id"), kStateCompleted, kStateAborted),
      req);
  if (!q.ok()) return q.status();
  return ForEachRow(*q, [&] {
    out.stops.push_back({q->ColumnText(0), static_cast<StopOutcome>(q->ColumnInt64(1)),
                         static_cast<int>(q->ColumnInt64(2)),
                         static_cast<std::uint64_t>(q->ColumnInt64(3))});
    return absl::OkStatus();
  });
}

absl::Status SqlitePeriodTables::ReadAlerts(const cit::v1::PeriodReportRequest& req,
                                            PeriodRows& out) {
  const std::string where =
      "WHERE event_time_ns >= ?1 AND event_time_ns < ?2" + VehicleFilter(req, "vehicle_id");
  absl::StatusOr<sqlite::Statement> q =
      PreparePeriod(*db_,
                    "SELECT kind, severity, COUNT(*) FROM alerts " + where +
                        " GROUP BY kind, severity ORDER BY severity DESC, kind",
                    req);
  if (!q.ok()) return q.status();
  absl::Status read = ForEachRow(*q, [&] {
    out.alerts.push_back({static_cast<int>(q->ColumnInt64(0)), static_cast<int>(q->ColumnInt64(1)),
                          static_cast<std::uint64_t>(q->ColumnInt64(2))});
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  q = PreparePeriod(*db_,
                    fmt::format("SELECT severity, proto FROM alerts {} AND state <> {}", where,
                                static_cast<int>(cit::v1::ALERT_STATE_OPEN)),
                    req);
  if (!q.ok()) return q.status();
  return ForEachRow(*q, [&] {
    out.acted.push_back({static_cast<int>(q->ColumnInt64(0)), q->ColumnBlob(1)});
    return absl::OkStatus();
  });
}

absl::Status SqlitePeriodTables::ReadCompleteness(const cit::v1::PeriodReportRequest& req,
                                                  PeriodRows& out) {
  absl::StatusOr<sqlite::Statement> q = PreparePeriod(
      *db_,
      fmt::format("SELECT TOTAL(s.off_route_m), TOTAL(s.off_route_s), TOTAL(s.records), "
                  "TOTAL(s.fixes), TOTAL(s.gaps), TOTAL(s.gap_s), TOTAL(s.delayed) "
                  "FROM report_runs p JOIN report_run_summaries s ON s.run_id = p.run_id "
                  "WHERE p.start_ns >= ?1 AND p.start_ns < ?2{} AND p.state IN ({}, {})",
                  VehicleFilter(req, "p.vehicle_id"), kStateCompleted, kStateAborted),
      req);
  if (!q.ok()) return q.status();
  if (absl::StatusOr<bool> row = q->Step(); !row.ok()) return row.status();
  out.off_route_m = q->ColumnDouble(0);
  out.off_route_s = q->ColumnDouble(1);
  out.records = q->ColumnDouble(2);
  out.fixes = q->ColumnDouble(3);
  out.gaps = q->ColumnDouble(4);
  out.gap_s = q->ColumnDouble(5);
  out.delayed = q->ColumnDouble(6);
  // seq_gaps is the SQLite record store's table; a file without it has no records.
  absl::StatusOr<sqlite::Statement> has =
      db_->Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'seq_gaps'");
  if (!has.ok()) return has.status();
  absl::StatusOr<bool> exists = has->Step();
  if (!exists.ok()) return exists.status();
  if (!*exists) return absl::OkStatus();
  q = PreparePeriod(*db_,
                    "SELECT COUNT(*) FROM seq_gaps WHERE server_time_ns >= ?1 AND "
                    "server_time_ns < ?2" +
                        VehicleFilter(req, "vehicle_id"),
                    req);
  if (!q.ok()) return q.status();
  if (absl::StatusOr<bool> row = q->Step(); !row.ok()) return row.status();
  out.seq_gaps = static_cast<std::uint64_t>(q->ColumnInt64(0));
  return absl::OkStatus();
}

}  // namespace cit::dispatch
