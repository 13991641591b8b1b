// The period report (docs/reports.md): runs, stop punctuality, alerts and response times,
// deviations and data completeness of a fleet (or some vehicles) over [from, to).
//
//   auto reporter = PeriodReporter::Open(std::move(tables), audit_source);   // after the run
//   absl::StatusOr<cit::v1::PeriodReport> r = (*reporter)->Build(request);   // and alert stores
//
// Aggregation is SQL over indexed tables, never a scan of the period's records: the reporter
// keeps three derived tables in the database of the runs and alerts, SQLite or PostgreSQL
// (period_report_tables.h; migration component "period_report"): report_runs (each run's current
// version, state, vehicle and period start; brought up to date from `runs` at every build),
// report_run_summaries and report_stops (per ended run, made once, the first time a report covers
// the run after it ended, from its run report; period_run_summary.h). Alerts are counted by SQL
// over an index on their event time; only alerts that were acknowledged or resolved are parsed,
// for their response times.
//
// Thread contract: thread-safe; builds are serialised on the reporter's own connection.
#ifndef CIT_DISPATCH_SERVER_AUDIT_PERIOD_REPORT_H_
#define CIT_DISPATCH_SERVER_AUDIT_PERIOD_REPORT_H_

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/audit/audit_source.h"
#include "dispatch-server/audit/period_report_tables.h"
#include "dispatch-server/audit/period_run_summary.h"

namespace cit::dispatch {

// INVALID_ARGUMENT naming the field when from/to are missing, reversed or more than 366 days
// apart, or a vehicle id is empty or more than 10,000 are given.
absl::Status ValidatePeriodRequest(const cit::v1::PeriodReportRequest& req);

class PeriodReporter {
 public:
  static constexpr std::size_t kMaxVehicles = 10000;

  // `tables` in the database of the runs and alerts; `source` reads the records of a run to
  // summarise.
  static std::unique_ptr<PeriodReporter> Open(std::unique_ptr<PeriodReportTables> tables,
                                              std::shared_ptr<AuditSource> source);
  // On the server's SQLite file (SqlitePeriodTables), whose `runs` and `alerts` tables must
  // exist (their stores open first).
  static absl::StatusOr<std::unique_ptr<PeriodReporter>> Open(const std::filesystem::path& db_path,
                                                              std::shared_ptr<AuditSource> source);

  ~PeriodReporter();
  PeriodReporter(const PeriodReporter&) = delete;
  PeriodReporter& operator=(const PeriodReporter&) = delete;

  absl::StatusOr<cit::v1::PeriodReport> Build(const cit::v1::PeriodReportRequest& req);

  // Summarises every ended run that has no summary yet, a few runs per lock so a report waits
  // for at most those; how many were summarised.
  absl::StatusOr<std::uint64_t> SummariseBacklog();
  // A thread that runs SummariseBacklog every `interval`, so a month's report finds its runs
  // summarised (a run takes ~0.1 s to summarise from 28,800 records; 6,000 at report time would
  // take minutes). StopBackground (or the destructor) ends it; call it before the record store
  // goes away.
  void StartBackground(std::chrono::milliseconds interval);
  void StopBackground();

  // Stores a run's summary (Build does this for ended runs without one; benchmarks call it).
  absl::Status StoreSummary(const cit::v1::Run& run, const PeriodRunSummary& summary);

 private:
  PeriodReporter(std::unique_ptr<PeriodReportTables> tables, std::shared_ptr<AuditSource> source)
      : tables_(std::move(tables)), source_(std::move(source)) {}

  // Summaries of the period's ended runs that have none (or an outdated one); how many made.
  // At most `limit` runs (0: all).
  absl::StatusOr<std::uint64_t> SummariseEndedRuns(const cit::v1::PeriodReportRequest& req,
                                                   std::size_t limit = 0);

  std::mutex mu_;
  std::unique_ptr<PeriodReportTables> tables_;
  std::shared_ptr<AuditSource> source_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;
  std::thread background_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_PERIOD_REPORT_H_
