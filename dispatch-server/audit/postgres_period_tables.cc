#include "dispatch-server/audit/postgres_period_tables.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

using google::protobuf::util::TimeUtil;

// Derived tables: rebuilt from the runs, alerts and records at will, so not append-only.
const std::string kReportSchemaSql = absl::StrCat(pg::kServerRoleSql, R"sql(
CREATE TABLE report_runs (
  run_id     text    PRIMARY KEY,
  version    bigint  NOT NULL,
  state      integer NOT NULL,  -- cit.v1.RunState
  vehicle_id text    NOT NULL,
  start_ns   bigint  NOT NULL   -- planned start, or creation time without one
);
CREATE INDEX report_runs_by_start ON report_runs (start_ns, vehicle_id);
CREATE TABLE report_run_summaries (
  run_id      text             PRIMARY KEY,
  version     bigint           NOT NULL,
  state       integer          NOT NULL,
  off_route_m double precision NOT NULL,
  off_route_s double precision NOT NULL,
  records     bigint           NOT NULL,
  fixes       bigint           NOT NULL,
  gaps        bigint           NOT NULL,
  gap_s       double precision NOT NULL,
  delayed     bigint           NOT NULL
);
CREATE TABLE report_stops (
  run_id  text             NOT NULL,
  idx     integer          NOT NULL,
  site    text             NOT NULL,
  outcome integer          NOT NULL,  -- StopOutcome (period_run_summary.h)
  delta_s double precision NOT NULL,
  bucket  integer          NOT NULL,
  PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS alerts_by_event_time ON alerts (event_time_ns);
REVOKE ALL ON report_runs, report_run_summaries, report_stops FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON report_runs, report_run_summaries, report_stops
  TO citwatch_server;
)sql");

// Released versions are never edited.
const pg::Migration kMigrations[] = {
    {1, "period report: run periods, run summaries, stop outcomes; alerts by event time",
     kReportSchemaSql},
};

constexpr int kStateCompleted = cit::v1::RUN_STATE_COMPLETED;
constexpr int kStateAborted = cit::v1::RUN_STATE_ABORTED;

// A period query's parameters: $1 from and $2 to (ns), $3... the request's vehicles.
struct PeriodParams {
  explicit PeriodParams(const cit::v1::PeriodReportRequest& req)
      : from_ns(TimeUtil::TimestampToNanoseconds(req.from())),
        to_ns(TimeUtil::TimestampToNanoseconds(req.to())),
        vehicles(req.vehicle_ids().begin(), req.vehicle_ids().end()) {}

  // " AND <column> IN ($3, $4, ...)", empty for every vehicle.
  std::string VehicleFilter(std::string_view column) const {
    if (vehicles.empty()) return "";
    std::string sql = fmt::format(" AND {} IN (", column);
    for (size_t i = 0; i < vehicles.size(); ++i) sql += fmt::format("{}${}", i ? "," : "", i + 3);
    return sql + ")";
  }

  pqxx::result Exec(pqxx::transaction_base& t, const std::string& sql) const {
    return t.exec_params(sql, from_ns, to_ns, pqxx::prepare::make_dynamic_params(vehicles));
  }

  int64_t from_ns;
  int64_t to_ns;
  std::vector<std::string> vehicles;
};

void ReadRuns(pqxx::transaction_base& t, const PeriodParams& p, PeriodRows& out) {
  const std::string where =
      "WHERE start_ns >= $1 AND start_ns < $2" + p.VehicleFilter("vehicle_id");
  for (const pqxx::row& r :
       p.Exec(t, "SELECT state, COUNT(*) FROM report_runs " + where + " GROUP BY state")) {
    out.runs_by_state.push_back({r[0].as<int>(), r[1].as<std::uint64_t>()});
  }
  out.vehicles = p.Exec(t, "SELECT COUNT(DISTINCT vehicle_id) FROM report_runs " + where)[0][0]
                     .as<std::uint64_t>();
}

void ReadStops(pqxx::transaction_base& t, const PeriodParams& p, PeriodRows& out) {
  const pqxx::result rows =
      p.Exec(t, fmt::format("SELECT t.site, t.outcome, t.bucket, COUNT(*) FROM report_runs p "
                            "JOIN report_stops t ON t.run_id = p.run_id "
                            "WHERE p.start_ns >= $1 AND p.start_ns < $2{} AND p.state IN ({}, {}) "
                            "GROUP BY t.site, t.outcome, t.bucket",
                            p.VehicleFilter("p.vehicle_id"), kStateCompleted, kStateAborted));
  for (const pqxx::row& r : rows) {
    out.stops.push_back({r[0].as<std::string>(), static_cast<StopOutcome>(r[1].as<int>()),
                         r[2].as<int>(), r[3].as<std::uint64_t>()});
  }
}

void ReadAlerts(pqxx::transaction_base& t, const PeriodParams& p, PeriodRows& out) {
  const std::string where =
      "WHERE event_time_ns >= $1 AND event_time_ns < $2" + p.VehicleFilter("vehicle_id");
  for (const pqxx::row& r :
       p.Exec(t, "SELECT kind, severity, COUNT(*) FROM alerts " + where +
                     " GROUP BY kind, severity ORDER BY severity DESC, kind")) {
    out.alerts.push_back({r[0].as<int>(), r[1].as<int>(), r[2].as<std::uint64_t>()});
  }
  for (const pqxx::row& r :
       p.Exec(t, fmt::format("SELECT severity, proto FROM alerts {} AND state <> {}", where,
                             static_cast<int>(cit::v1::ALERT_STATE_OPEN)))) {
    out.acted.push_back({r[0].as<int>(), pg::Bytes(r[1])});
  }
}

void ReadCompleteness(pqxx::transaction_base& t, const PeriodParams& p, PeriodRows& out) {
  const pqxx::row r = p.Exec(
      t,
      fmt::format("SELECT COALESCE(SUM(s.off_route_m), 0)::float8, "
                  "COALESCE(SUM(s.off_route_s), 0)::float8, COALESCE(SUM(s.records), 0)::float8, "
                  "COALESCE(SUM(s.fixes), 0)::float8, COALESCE(SUM(s.gaps), 0)::float8, "
                  "COALESCE(SUM(s.gap_s), 0)::float8, COALESCE(SUM(s.delayed), 0)::float8 "
                  "FROM report_runs p JOIN report_run_summaries s ON s.run_id = p.run_id "
                  "WHERE p.start_ns >= $1 AND p.start_ns < $2{} AND p.state IN ({}, {})",
                  p.VehicleFilter("p.vehicle_id"), kStateCompleted, kStateAborted))[0];
  out.off_route_m = r[0].as<double>();
  out.off_route_s = r[1].as<double>();
  out.records = r[2].as<double>();
  out.fixes = r[3].as<double>();
  out.gaps = r[4].as<double>();
  out.gap_s = r[5].as<double>();
  out.delayed = r[6].as<double>();
  // seq_gaps is PostgresStore's table in the same database; none without the record store.
  if (!t.exec1("SELECT to_regclass('seq_gaps') IS NOT NULL")[0].as<bool>()) return;
  out.seq_gaps = p.Exec(t,
                        "SELECT COUNT(*) FROM seq_gaps WHERE server_time_ns >= $1 AND "
                        "server_time_ns < $2" +
                            p.VehicleFilter("vehicle_id"))[0][0]
                     .as<std::uint64_t>();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresPeriodTables>> PostgresPeriodTables::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  absl::Status migrated = (*session)->Run("migrating period_report", [](pqxx::connection& c) {
    return pg::ApplyMigrations(c, "period_report", kMigrations);
  });
  if (!migrated.ok()) return migrated;
  return std::unique_ptr<PostgresPeriodTables>(new PostgresPeriodTables(*std::move(session)));
}

absl::Status PostgresPeriodTables::SyncRuns() {
  return session_->Run("updating report_runs", [&](pqxx::connection& c) -> absl::Status {
    pqxx::work w(c);
    const pqxx::result changed = w.exec(
        "SELECT r.run_id, r.proto FROM (SELECT DISTINCT ON (run_id) run_id, version, state, proto "
        "FROM runs ORDER BY run_id, version DESC) r LEFT JOIN report_runs p ON p.run_id = r.run_id "
        "WHERE p.run_id IS NULL OR p.version <> r.version OR p.state <> r.state");
    for (const pqxx::row& row : changed) {
      cit::v1::Run run;
      if (!run.ParseFromString(pg::Bytes(row[1]))) {
        return absl::DataLossError("stored run " + row[0].as<std::string>() + " does not parse");
      }
      w.exec_params(
          "INSERT INTO report_runs (run_id, version, state, vehicle_id, start_ns) "
          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id) DO UPDATE SET version = $2, "
          "state = $3, vehicle_id = $4, start_ns = $5",
          run.plan().run_id(), static_cast<int64_t>(run.version()), static_cast<int>(run.state()),
          run.plan().vehicle_id(), ReportStartNs(run));
    }
    w.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<cit::v1::Run>> PostgresPeriodTables::UnsummarisedRuns(
    const cit::v1::PeriodReportRequest& req, std::size_t limit) {
  const PeriodParams p(req);
  const std::string sql = fmt::format(
      "SELECT r.proto FROM report_runs p "
      "JOIN runs r ON r.run_id = p.run_id AND r.version = p.version "
      "LEFT JOIN report_run_summaries s ON s.run_id = p.run_id "
      "WHERE p.start_ns >= $1 AND p.start_ns < $2{} AND p.state IN ({}, {}) "
      "AND (s.run_id IS NULL OR s.version <> p.version OR s.state <> p.state){}",
      p.VehicleFilter("p.vehicle_id"), kStateCompleted, kStateAborted,
      limit > 0 ? fmt::format(" LIMIT {}", limit) : std::string());
  return session_->Run("finding runs to summarise", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    return pg::ParseRows<cit::v1::Run>(p.Exec(t, sql), "runs");
  });
}

absl::Status PostgresPeriodTables::StoreSummary(const cit::v1::Run& run,
                                                const PeriodRunSummary& summary) {
  return session_->Run(
      "storing the summary of run " + run.plan().run_id(), [&](pqxx::connection& c) {
        pqxx::work w(c);
        w.exec_params(
            "INSERT INTO report_run_summaries (run_id, version, state, "
            "off_route_m, off_route_s, records, fixes, gaps, gap_s, delayed) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT (run_id) DO UPDATE SET version = $2, state = $3, "
            "off_route_m = $4, off_route_s = $5, records = $6, fixes = $7, "
            "gaps = $8, gap_s = $9, delayed = $10",
            run.plan().run_id(), static_cast<int64_t>(run.version()), static_cast<int>(run.state()),
            summary.off_route_m, summary.off_route_s, static_cast<int64_t>(summary.records),
            static_cast<int64_t>(summary.fixes), static_cast<int64_t>(summary.gaps), summary.gap_s,
            static_cast<int64_t>(summary.delayed_records));
        w.exec_params("DELETE FROM report_stops WHERE run_id = $1", run.plan().run_id());
        for (std::size_t i = 0; i < summary.stops.size(); ++i) {
          const StopSummary& st = summary.stops[i];
          w.exec_params(
              "INSERT INTO report_stops (run_id, idx, site, outcome, delta_s, "
              "bucket) VALUES ($1, $2, $3, $4, $5, $6)",
              run.plan().run_id(), static_cast<int>(i), st.site, static_cast<int>(st.outcome),
              st.delta_s, st.bucket);
        }
        w.commit();
        return absl::OkStatus();
      });
}

absl::StatusOr<PeriodRows> PostgresPeriodTables::Read(const cit::v1::PeriodReportRequest& req) {
  const PeriodParams p(req);
  return session_->Run("reading the period report",
                       [&](pqxx::connection& c) -> absl::StatusOr<PeriodRows> {
                         // One snapshot: every figure comes from the same state of the database.
                         pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);
                         PeriodRows out;
                         ReadRuns(t, p, out);
                         ReadStops(t, p, out);
                         ReadAlerts(t, p, out);
                         ReadCompleteness(t, p, out);
                         return out;
                       });
}

}  // namespace cit::dispatch
