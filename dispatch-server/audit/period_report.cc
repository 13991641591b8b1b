#include "dispatch-server/audit/period_report.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "dispatch-server/audit/run_report.h"

namespace cit::dispatch {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

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

constexpr int64_t kMaxPeriodS = 366 * 86400;
constexpr int kStateCompleted = cit::v1::RUN_STATE_COMPLETED;
constexpr int kStateAborted = cit::v1::RUN_STATE_ABORTED;

int64_t Nanos(const Timestamp& t) { return TimeUtil::TimestampToNanoseconds(t); }
bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }
bool Valid(const Timestamp& t) {
  return t.seconds() >= TimeUtil::kTimestampMinSeconds &&
         t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 &&
         t.nanos() < 1'000'000'000;
}

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
  q->Bind(1, Nanos(req.from())).Bind(2, Nanos(req.to()));
  for (int i = 0; i < req.vehicle_ids_size(); ++i) q->Bind(i + 3, req.vehicle_ids(i));
  return q;
}

double SecondsBetween(const Timestamp& from, const Timestamp& to) {
  return static_cast<double>(TimeUtil::DurationToNanoseconds(to - from)) / 1e9;
}

struct Times {
  uint64_t raised = 0;
  std::vector<double> ack_s;
  std::vector<double> resolve_s;
};

cit::v1::ResponseTimes ToResponseTimes(std::string key, Times& t) {
  cit::v1::ResponseTimes r;
  r.set_key(std::move(key));
  r.set_raised(t.raised);
  r.set_acknowledged(t.ack_s.size());
  r.set_resolved(t.resolve_s.size());
  r.set_ack_p50_s(NearestRankPercentile(t.ack_s, 0.5));
  r.set_ack_p95_s(NearestRankPercentile(t.ack_s, 0.95));
  r.set_resolve_p50_s(NearestRankPercentile(t.resolve_s, 0.5));
  r.set_resolve_p95_s(NearestRankPercentile(t.resolve_s, 0.95));
  return r;
}

std::string SeverityKey(int severity) {
  std::string name = cit::v1::Severity_Name(static_cast<cit::v1::Severity>(severity));
  return name.rfind("SEVERITY_", 0) == 0 ? name.substr(9) : name;
}

}  // namespace

absl::Status ValidatePeriodRequest(const cit::v1::PeriodReportRequest& req) {
  if (!req.has_from()) return absl::InvalidArgumentError("from: required (start of the period)");
  if (!req.has_to()) return absl::InvalidArgumentError("to: required (end of the period)");
  if (!Valid(req.from()) || !Valid(req.to())) {
    return absl::InvalidArgumentError("from/to: not a valid time");
  }
  if (!(req.from() < req.to())) {
    return absl::InvalidArgumentError("to: must be after from (the period is [from, to))");
  }
  if (req.to().seconds() - req.from().seconds() > kMaxPeriodS) {
    return absl::InvalidArgumentError("to: the period is longer than 366 days; report each year");
  }
  if (req.vehicle_ids_size() > static_cast<int>(PeriodReporter::kMaxVehicles)) {
    return absl::InvalidArgumentError(fmt::format(
        "vehicle_ids: {} given, at most {}", req.vehicle_ids_size(), PeriodReporter::kMaxVehicles));
  }
  for (int i = 0; i < req.vehicle_ids_size(); ++i) {
    if (req.vehicle_ids(i).empty()) {
      return absl::InvalidArgumentError(fmt::format("vehicle_ids[{}]: empty", i));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PeriodReporter>> PeriodReporter::Open(
    const std::filesystem::path& db_path, std::shared_ptr<AuditSource> source) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(db_path);
  if (!db.ok()) return db.status();
  if (absl::Status s = sqlite::ApplyMigrations(**db, "period_report", kReportMigrations); !s.ok()) {
    return s;
  }
  return std::unique_ptr<PeriodReporter>(new PeriodReporter(*std::move(db), std::move(source)));
}

absl::StatusOr<cit::v1::PeriodReport> PeriodReporter::Build(
    const cit::v1::PeriodReportRequest& req) {
  if (absl::Status s = ValidatePeriodRequest(req); !s.ok()) return s;
  const auto started = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  cit::v1::PeriodReport out;
  *out.mutable_from() = req.from();
  *out.mutable_to() = req.to();
  *out.mutable_vehicle_ids() = req.vehicle_ids();
  if (absl::Status s = SyncRuns(); !s.ok()) return s;
  absl::StatusOr<std::uint64_t> summarised = SummariseEndedRuns(req);
  if (!summarised.ok()) return summarised.status();
  out.set_runs_summarised(*summarised);
  // One read transaction: every figure comes from the same state of the store.
  if (absl::Status s = db_->Exec("BEGIN"); !s.ok()) return s;
  absl::Status s = AddRuns(req, out);
  if (s.ok()) s = AddStops(req, out);
  if (s.ok()) s = AddAlerts(req, out);
  if (s.ok()) s = AddCompleteness(req, out);
  (void)db_->Exec("COMMIT");
  if (!s.ok()) return s;
  out.set_build_s(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return out;
}

absl::Status PeriodReporter::SyncRuns() {
  absl::StatusOr<sqlite::Statement> q = db_->Prepare(
      "SELECT r.run_id, r.proto FROM runs r LEFT JOIN report_runs p ON p.run_id = r.run_id "
      "WHERE r.version = (SELECT MAX(version) FROM runs x WHERE x.run_id = r.run_id) "
      "AND (p.run_id IS NULL OR p.version <> r.version OR p.state <> r.state)");
  if (!q.ok()) return q.status();
  std::vector<cit::v1::Run> changed;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::Run run;
    if (!run.ParseFromString(q->ColumnBlob(1))) {
      return absl::DataLossError("stored run " + q->ColumnText(0) + " does not parse");
    }
    changed.push_back(std::move(run));
  }
  if (changed.empty()) return absl::OkStatus();
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  absl::StatusOr<sqlite::Statement> put = db_->Prepare(
      "INSERT OR REPLACE INTO report_runs (run_id, version, state, vehicle_id, start_ns) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!put.ok()) return put.status();
  for (const cit::v1::Run& run : changed) {
    const Timestamp& start =
        IsSet(run.plan().planned_start()) ? run.plan().planned_start() : run.created_time();
    put->Reset()
        .Bind(1, run.plan().run_id())
        .Bind(2, run.version())
        .Bind(3, static_cast<int>(run.state()))
        .Bind(4, run.plan().vehicle_id())
        .Bind(5, Nanos(start));
    if (absl::Status s = put->Run(); !s.ok()) return s;
  }
  return tx.Commit();
}

PeriodReporter::~PeriodReporter() { StopBackground(); }

absl::StatusOr<std::uint64_t> PeriodReporter::SummariseBacklog() {
  // Every run from 1970 to 2100.
  cit::v1::PeriodReportRequest all;
  all.mutable_from()->set_seconds(0);
  all.mutable_to()->set_seconds(4'102'444'800);
  std::uint64_t total = 0;
  while (true) {
    {
      std::lock_guard<std::mutex> stop_lock(bg_mu_);
      if (bg_stop_) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status s = SyncRuns(); !s.ok()) return s;
    absl::StatusOr<std::uint64_t> n = SummariseEndedRuns(all, 4);
    if (!n.ok()) return n.status();
    total += *n;
    if (*n == 0) break;
  }
  return total;
}

void PeriodReporter::StartBackground(std::chrono::milliseconds interval) {
  StopBackground();
  bg_stop_ = false;
  background_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(bg_mu_);
    while (!bg_stop_) {
      lock.unlock();
      absl::StatusOr<std::uint64_t> n = SummariseBacklog();
      if (!n.ok()) {
        spdlog::warn("event=period_summary_failed error=\"{}\"", n.status().ToString());
      } else if (*n > 0) {
        spdlog::info("event=period_summaries runs={}", *n);
      }
      lock.lock();
      bg_cv_.wait_for(lock, interval, [this] { return bg_stop_; });
    }
  });
}

void PeriodReporter::StopBackground() {
  {
    std::lock_guard<std::mutex> lock(bg_mu_);
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (background_.joinable()) background_.join();
}

absl::StatusOr<std::uint64_t> PeriodReporter::SummariseEndedRuns(
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
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::Run run;
    if (!run.ParseFromString(q->ColumnBlob(0))) return absl::DataLossError("a run does not parse");
    runs.push_back(std::move(run));
  }
  for (const cit::v1::Run& run : runs) {
    const auto [from, to] = RunWindow(run);
    absl::StatusOr<std::vector<cit::v1::StoredRecord>> records =
        source_->VehicleRecords(run.plan().vehicle_id(), from, to);
    if (!records.ok()) return records.status();
    const cit::v1::RunReport report = BuildRunReport(run, *records, {});
    if (absl::Status s = StoreSummary(run, SummariseRun(report, *records)); !s.ok()) return s;
  }
  return runs.size();
}

absl::Status PeriodReporter::StoreSummary(const cit::v1::Run& run,
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

absl::Status PeriodReporter::AddRuns(const cit::v1::PeriodReportRequest& req,
                                     cit::v1::PeriodReport& out) {
  const std::string where =
      "WHERE start_ns >= ?1 AND start_ns < ?2" + VehicleFilter(req, "vehicle_id");
  absl::StatusOr<sqlite::Statement> q = PreparePeriod(
      *db_, "SELECT state, COUNT(*) FROM report_runs " + where + " GROUP BY state", req);
  if (!q.ok()) return q.status();
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const auto n = static_cast<uint64_t>(q->ColumnInt64(1));
    out.set_runs_planned(out.runs_planned() + n);
    switch (q->ColumnInt64(0)) {
      case cit::v1::RUN_STATE_COMPLETED:
        out.set_runs_completed(out.runs_completed() + n);
        break;
      case cit::v1::RUN_STATE_ABORTED:
        out.set_runs_aborted(out.runs_aborted() + n);
        break;
      case cit::v1::RUN_STATE_DISPATCHED:
      case cit::v1::RUN_STATE_ACTIVE:
        out.set_runs_in_progress(out.runs_in_progress() + n);
        break;
      default:
        out.set_runs_not_dispatched(out.runs_not_dispatched() + n);
    }
  }
  q = PreparePeriod(*db_, "SELECT COUNT(DISTINCT vehicle_id) FROM report_runs " + where, req);
  if (!q.ok()) return q.status();
  if (absl::StatusOr<bool> row = q->Step(); !row.ok()) return row.status();
  out.set_vehicles(static_cast<uint64_t>(q->ColumnInt64(0)));
  return absl::OkStatus();
}

absl::Status PeriodReporter::AddStops(const cit::v1::PeriodReportRequest& req,
                                      cit::v1::PeriodReport& out) {
  absl::StatusOr<sqlite::Statement> q = PreparePeriod(
      *db_,
      fmt::format("SELECT t.site, t.outcome, t.bucket, COUNT(*) FROM report_runs p "
                  "JOIN report_stops t ON t.run_id = p.run_id "
                  "WHERE p.start_ns >= ?1 AND p.start_ns < ?2{} AND p.state IN ({}, {}) "
                  "GROUP BY t.site, t.outcome, t.bucket",
                  VehicleFilter(req, "p.vehicle_id"), kStateCompleted, kStateAborted),
      req);
  if (!q.ok()) return q.status();
  std::map<std::string, cit::v1::StopPunctuality> sites;
  std::map<int, uint64_t> buckets;
  cit::v1::Punctuality* p = out.mutable_punctuality();
  auto add = [](cit::v1::StopPunctuality& s, StopOutcome o, uint64_t n) {
    switch (o) {
      case StopOutcome::kOnTime:
        return s.set_on_time(s.on_time() + n);
      case StopOutcome::kEarly:
        return s.set_early(s.early() + n);
      case StopOutcome::kLate:
        return s.set_late(s.late() + n);
      case StopOutcome::kMissed:
        return s.set_missed(s.missed() + n);
      case StopOutcome::kSkipped:
        return s.set_skipped(s.skipped() + n);
    }
  };
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const std::string site = q->ColumnText(0);
    const auto outcome = static_cast<StopOutcome>(q->ColumnInt64(1));
    const auto n = static_cast<uint64_t>(q->ColumnInt64(3));
    cit::v1::StopPunctuality& s = sites[site];
    s.set_site(site);
    add(s, outcome, n);
    add(*p->mutable_total(), outcome, n);
    if (outcome == StopOutcome::kOnTime || outcome == StopOutcome::kEarly ||
        outcome == StopOutcome::kLate) {
      buckets[static_cast<int>(q->ColumnInt64(2))] += n;
    }
  }
  for (auto& [site, s] : sites) *p->add_sites() = std::move(s);
  for (const auto& [minutes, n] : buckets) {
    cit::v1::PunctualityBucket* b = p->add_buckets();
    b->set_minutes(minutes);
    b->set_stops(n);
  }
  return absl::OkStatus();
}

absl::Status PeriodReporter::AddAlerts(const cit::v1::PeriodReportRequest& req,
                                       cit::v1::PeriodReport& out) {
  const std::string where =
      "WHERE event_time_ns >= ?1 AND event_time_ns < ?2" + VehicleFilter(req, "vehicle_id");
  absl::StatusOr<sqlite::Statement> q =
      PreparePeriod(*db_,
                    "SELECT kind, severity, COUNT(*) FROM alerts " + where +
                        " GROUP BY kind, severity ORDER BY severity DESC, kind",
                    req);
  if (!q.ok()) return q.status();
  std::map<int, Times, std::greater<>> by_severity;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::AlertCount* c = out.add_alerts();
    c->set_kind(static_cast<cit::v1::AlertKind>(q->ColumnInt64(0)));
    c->set_severity(static_cast<cit::v1::Severity>(q->ColumnInt64(1)));
    c->set_count(static_cast<uint64_t>(q->ColumnInt64(2)));
    out.set_alerts_total(out.alerts_total() + c->count());
    by_severity[c->severity()].raised += c->count();
    if (c->kind() == cit::v1::ALERT_KIND_ROUTE_DEVIATION) {
      out.set_deviations(out.deviations() + c->count());
    }
  }
  // Only alerts someone acted on carry response times.
  q = PreparePeriod(*db_,
                    fmt::format("SELECT severity, proto FROM alerts {} AND state <> {}", where,
                                static_cast<int>(cit::v1::ALERT_STATE_OPEN)),
                    req);
  if (!q.ok()) return q.status();
  std::map<std::string, Times> by_operator;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::Alert a;
    if (!a.ParseFromString(q->ColumnBlob(1))) return absl::DataLossError("an alert does not parse");
    Times& sev = by_severity[static_cast<int>(q->ColumnInt64(0))];
    bool acted = false;
    for (const cit::v1::AlertAction& act : a.actions()) {
      // The first operator action acknowledges, whether an acknowledgement or a resolution.
      const bool by_operator_action = act.actor() != "system" && !act.actor().empty();
      if (!acted && by_operator_action &&
          (act.state() == cit::v1::ALERT_STATE_ACKNOWLEDGED ||
           act.state() == cit::v1::ALERT_STATE_RESOLVED)) {
        acted = true;
        const double s = SecondsBetween(a.detected_time(), act.time());
        sev.ack_s.push_back(s);
        by_operator[act.actor()].ack_s.push_back(s);
      }
      if (act.state() == cit::v1::ALERT_STATE_RESOLVED) {
        const double s = SecondsBetween(a.detected_time(), act.time());
        sev.resolve_s.push_back(s);
        by_operator[act.actor()].resolve_s.push_back(s);
        break;
      }
    }
  }
  for (auto& [severity, t] : by_severity) {
    *out.add_by_severity() = ToResponseTimes(SeverityKey(severity), t);
  }
  for (auto& [name, t] : by_operator) *out.add_by_operator() = ToResponseTimes(name, t);
  return absl::OkStatus();
}

absl::Status PeriodReporter::AddCompleteness(const cit::v1::PeriodReportRequest& req,
                                             cit::v1::PeriodReport& out) {
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
  out.set_off_route_km(q->ColumnDouble(0) / 1000.0);
  out.set_off_route_s(q->ColumnDouble(1));
  out.set_records(static_cast<uint64_t>(q->ColumnDouble(2)));
  out.set_fixes(static_cast<uint64_t>(q->ColumnDouble(3)));
  out.set_gaps(static_cast<uint64_t>(q->ColumnDouble(4)));
  out.set_gap_total_s(q->ColumnDouble(5));
  out.set_delayed_records(static_cast<uint64_t>(q->ColumnDouble(6)));
  // With the PostgreSQL record store, seq_gaps lives there (issue 15): not counted here yet.
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
  out.set_seq_gaps(static_cast<uint64_t>(q->ColumnInt64(0)));
  return absl::OkStatus();
}

}  // namespace cit::dispatch
