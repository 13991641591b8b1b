#include "dispatch-server/audit/period_report.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include "dispatch-server/audit/run_report.h"
#include "dispatch-server/audit/sqlite_period_tables.h"

namespace cit::dispatch {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr int64_t kMaxPeriodS = 366 * 86400;
bool Valid(const Timestamp& t) {
  return t.seconds() >= TimeUtil::kTimestampMinSeconds &&
         t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 &&
         t.nanos() < 1'000'000'000;
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

void AddRuns(const PeriodRows& rows, cit::v1::PeriodReport& out) {
  for (const PeriodRows::RunState& r : rows.runs_by_state) {
    out.set_runs_planned(out.runs_planned() + r.runs);
    switch (r.state) {
      case cit::v1::RUN_STATE_COMPLETED:
        out.set_runs_completed(out.runs_completed() + r.runs);
        break;
      case cit::v1::RUN_STATE_ABORTED:
        out.set_runs_aborted(out.runs_aborted() + r.runs);
        break;
      case cit::v1::RUN_STATE_DISPATCHED:
      case cit::v1::RUN_STATE_ACTIVE:
        out.set_runs_in_progress(out.runs_in_progress() + r.runs);
        break;
      default:
        out.set_runs_not_dispatched(out.runs_not_dispatched() + r.runs);
    }
  }
  out.set_vehicles(rows.vehicles);
}

void AddStops(const PeriodRows& rows, cit::v1::PeriodReport& out) {
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
  for (const PeriodRows::Stop& row : rows.stops) {
    cit::v1::StopPunctuality& s = sites[row.site];
    s.set_site(row.site);
    add(s, row.outcome, row.stops);
    add(*p->mutable_total(), row.outcome, row.stops);
    if (row.outcome == StopOutcome::kOnTime || row.outcome == StopOutcome::kEarly ||
        row.outcome == StopOutcome::kLate) {
      buckets[row.bucket] += row.stops;
    }
  }
  for (auto& [site, s] : sites) *p->add_sites() = std::move(s);
  for (const auto& [minutes, n] : buckets) {
    cit::v1::PunctualityBucket* b = p->add_buckets();
    b->set_minutes(minutes);
    b->set_stops(n);
  }
}

absl::Status AddAlerts(const PeriodRows& rows, cit::v1::PeriodReport& out) {
  std::map<int, Times, std::greater<>> by_severity;
  for (const PeriodRows::AlertCount& row : rows.alerts) {
    cit::v1::AlertCount* c = out.add_alerts();
    c->set_kind(static_cast<cit::v1::AlertKind>(row.kind));
    c->set_severity(static_cast<cit::v1::Severity>(row.severity));
    c->set_count(row.alerts);
    out.set_alerts_total(out.alerts_total() + c->count());
    by_severity[c->severity()].raised += c->count();
    if (c->kind() == cit::v1::ALERT_KIND_ROUTE_DEVIATION) {
      out.set_deviations(out.deviations() + c->count());
    }
  }
  // Only alerts someone acted on carry response times.
  std::map<std::string, Times> by_operator;
  for (const PeriodRows::ActedAlert& row : rows.acted) {
    cit::v1::Alert a;
    if (!a.ParseFromString(row.proto)) return absl::DataLossError("an alert does not parse");
    Times& sev = by_severity[row.severity];
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

void AddCompleteness(const PeriodRows& rows, cit::v1::PeriodReport& out) {
  out.set_off_route_km(rows.off_route_m / 1000.0);
  out.set_off_route_s(rows.off_route_s);
  out.set_records(static_cast<uint64_t>(rows.records));
  out.set_fixes(static_cast<uint64_t>(rows.fixes));
  out.set_gaps(static_cast<uint64_t>(rows.gaps));
  out.set_gap_total_s(rows.gap_s);
  out.set_delayed_records(static_cast<uint64_t>(rows.delayed));
  out.set_seq_gaps(rows.seq_gaps);
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

std::unique_ptr<PeriodReporter> PeriodReporter::Open(std::unique_ptr<PeriodReportTables> tables,
                                                     std::shared_ptr<AuditSource> source) {
  return std::unique_ptr<PeriodReporter>(new PeriodReporter(std::move(tables), std::move(source)));
}

absl::StatusOr<std::unique_ptr<PeriodReporter>> PeriodReporter::Open(
    const std::filesystem::path& db_path, std::shared_ptr<AuditSource> source) {
  absl::StatusOr<std::unique_ptr<SqlitePeriodTables>> tables = SqlitePeriodTables::Open(db_path);
  if (!tables.ok()) return tables.status();
  return Open(*std::move(tables), std::move(source));
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
  if (absl::Status s = tables_->SyncRuns(); !s.ok()) return s;
  absl::StatusOr<std::uint64_t> summarised = SummariseEndedRuns(req);
  if (!summarised.ok()) return summarised.status();
  out.set_runs_summarised(*summarised);
  absl::StatusOr<PeriodRows> rows = tables_->Read(req);
  if (!rows.ok()) return rows.status();
  AddRuns(*rows, out);
  AddStops(*rows, out);
  if (absl::Status s = AddAlerts(*rows, out); !s.ok()) return s;
  AddCompleteness(*rows, out);
  out.set_build_s(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return out;
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
    if (absl::Status s = tables_->SyncRuns(); !s.ok()) return s;
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
  absl::StatusOr<std::vector<cit::v1::Run>> runs = tables_->UnsummarisedRuns(req, limit);
  if (!runs.ok()) return runs.status();
  for (const cit::v1::Run& run : *runs) {
    const auto [from, to] = RunWindow(run);
    absl::StatusOr<std::vector<cit::v1::StoredRecord>> records =
        source_->VehicleRecords(run.plan().vehicle_id(), from, to);
    if (!records.ok()) return records.status();
    const cit::v1::RunReport report = BuildRunReport(run, *records, {});
    if (absl::Status s = StoreSummary(run, SummariseRun(report, *records)); !s.ok()) return s;
  }
  return runs->size();
}

absl::Status PeriodReporter::StoreSummary(const cit::v1::Run& run,
                                          const PeriodRunSummary& summary) {
  return tables_->StoreSummary(run, summary);
}

}  // namespace cit::dispatch
