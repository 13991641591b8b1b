// The period report's tables in the server's SQLite file, beside the `runs` and `alerts` tables
// they join (period_report_tables.h; migration component "period_report").
//
//   absl::StatusOr<std::unique_ptr<SqlitePeriodTables>> t = SqlitePeriodTables::Open(db_path);
//
// Thread contract: one thread at a time (its own connection).
#ifndef CIT_DISPATCH_SERVER_AUDIT_SQLITE_PERIOD_TABLES_H_
#define CIT_DISPATCH_SERVER_AUDIT_SQLITE_PERIOD_TABLES_H_

#include <filesystem>
#include <memory>

#include "dispatch-server/audit/period_report_tables.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class SqlitePeriodTables final : public PeriodReportTables {
 public:
  // Opens a connection of its own to the server's database, whose `runs` and `alerts` tables
  // must exist (their stores open first), and migrates the report tables.
  static absl::StatusOr<std::unique_ptr<SqlitePeriodTables>> Open(
      const std::filesystem::path& db_path);

  absl::Status SyncRuns() override;
  absl::StatusOr<std::vector<cit::v1::Run>> UnsummarisedRuns(
      const cit::v1::PeriodReportRequest& req, std::size_t limit) override;
  absl::Status StoreSummary(const cit::v1::Run& run, const PeriodRunSummary& summary) override;
  absl::StatusOr<PeriodRows> Read(const cit::v1::PeriodReportRequest& req) override;

 private:
  explicit SqlitePeriodTables(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}

  absl::Status ReadRuns(const cit::v1::PeriodReportRequest& req, PeriodRows& out);
  absl::Status ReadStops(const cit::v1::PeriodReportRequest& req, PeriodRows& out);
  absl::Status ReadAlerts(const cit::v1::PeriodReportRequest& req, PeriodRows& out);
  absl::Status ReadCompleteness(const cit::v1::PeriodReportRequest& req, PeriodRows& out);

  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_SQLITE_PERIOD_TABLES_H_
