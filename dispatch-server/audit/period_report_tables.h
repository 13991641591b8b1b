// Where the period report (docs/reports.md) keeps its derived tables and reads its figures: the
// database that holds the runs and alerts, SQLite (SqlitePeriodTables) or PostgreSQL
// (PostgresPeriodTables), chosen by [store] backend. The tables are the same on both:
// report_runs (each run's current version, state, vehicle and period start), and per ended run
// report_run_summaries and report_stops (period_run_summary.h). PeriodReporter does the rest
// (which runs to summarise, how rows become figures) once for both.
//
//   std::unique_ptr<PeriodReportTables> tables = *SqlitePeriodTables::Open(db_path);
//   (void)tables->SyncRuns();
//   absl::StatusOr<PeriodRows> rows = tables->Read(request);
//
// Thread contract: implementations are used by one thread at a time (PeriodReporter serialises).
#ifndef CIT_DISPATCH_SERVER_AUDIT_PERIOD_REPORT_TABLES_H_
#define CIT_DISPATCH_SERVER_AUDIT_PERIOD_REPORT_TABLES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/audit/period_run_summary.h"

namespace cit::dispatch {

// The raw figures of one period, all read from one state of the database.
struct PeriodRows {
  struct RunState {
    int state = 0;  // cit.v1.RunState
    std::uint64_t runs = 0;
  };
  struct Stop {
    std::string site;
    StopOutcome outcome = StopOutcome::kOnTime;
    int bucket = 0;
    std::uint64_t stops = 0;
  };
  struct AlertCount {
    int kind = 0;      // cit.v1.AlertKind
    int severity = 0;  // cit.v1.Severity
    std::uint64_t alerts = 0;
  };
  struct ActedAlert {
    int severity = 0;
    std::string proto;  // the cit.v1.Alert, with its actions
  };
  std::vector<RunState> runs_by_state;  // runs starting in the period
  std::uint64_t vehicles = 0;           // distinct vehicles of those runs
  std::vector<Stop> stops;              // of the period's ended runs, by site, outcome, bucket
  std::vector<AlertCount> alerts;       // by event time, severity descending then kind
  std::vector<ActedAlert> acted;        // alerts of the period no longer open
  // Sums over the period's ended runs' summaries.
  double off_route_m = 0;
  double off_route_s = 0;
  double records = 0;
  double fixes = 0;
  double gaps = 0;
  double gap_s = 0;
  double delayed = 0;
  std::uint64_t seq_gaps = 0;  // declared sequence gaps stored in the period
};

class PeriodReportTables {
 public:
  PeriodReportTables() = default;
  virtual ~PeriodReportTables() = default;
  PeriodReportTables(const PeriodReportTables&) = delete;
  PeriodReportTables& operator=(const PeriodReportTables&) = delete;
  PeriodReportTables(PeriodReportTables&&) = delete;
  PeriodReportTables& operator=(PeriodReportTables&&) = delete;

  // report_runs catches up with `runs`.
  virtual absl::Status SyncRuns() = 0;
  // The current version of each ended (completed or aborted) run starting in the period, of the
  // request's vehicles, whose summary is missing or outdated; at most `limit` (0: all).
  virtual absl::StatusOr<std::vector<cit::v1::Run>> UnsummarisedRuns(
      const cit::v1::PeriodReportRequest& req, std::size_t limit) = 0;
  // Replaces the run's summary and stop outcomes, in one transaction.
  virtual absl::Status StoreSummary(const cit::v1::Run& run, const PeriodRunSummary& summary) = 0;
  // Every figure of the period in one read transaction.
  virtual absl::StatusOr<PeriodRows> Read(const cit::v1::PeriodReportRequest& req) = 0;
};

// A run's place in periods, ns since the epoch: its planned start, or its creation time without
// one.
std::int64_t ReportStartNs(const cit::v1::Run& run);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_PERIOD_REPORT_TABLES_H_
