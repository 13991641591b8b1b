// The period report's tables in PostgreSQL, beside the `runs` and `alerts` tables of
// PostgresRunStore and PostgresAlertStore that they join (period_report_tables.h; migration
// component "period_report"; issue 15). The same tables and figures as SqlitePeriodTables.
//
//   absl::StatusOr<std::unique_ptr<PostgresPeriodTables>> t = PostgresPeriodTables::Open(conninfo);
//
// Thread contract: thread-safe (one connection, serialised by pg::Session).
#ifndef CIT_DISPATCH_SERVER_AUDIT_POSTGRES_PERIOD_TABLES_H_
#define CIT_DISPATCH_SERVER_AUDIT_POSTGRES_PERIOD_TABLES_H_

#include <memory>
#include <string>

#include "dispatch-server/audit/period_report_tables.h"
#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

class PostgresPeriodTables final : public PeriodReportTables {
 public:
  // Connects and migrates the report tables; the `runs` and `alerts` components must be
  // migrated first (their stores open first). The server's role (citwatch_server) may read and
  // rewrite these derived tables, and only read the runs and alerts.
  static absl::StatusOr<std::unique_ptr<PostgresPeriodTables>> Open(const std::string& conninfo);

  absl::Status SyncRuns() override;
  absl::StatusOr<std::vector<cit::v1::Run>> UnsummarisedRuns(
      const cit::v1::PeriodReportRequest& req, std::size_t limit) override;
  absl::Status StoreSummary(const cit::v1::Run& run, const PeriodRunSummary& summary) override;
  absl::StatusOr<PeriodRows> Read(const cit::v1::PeriodReportRequest& req) override;

 private:
  explicit PostgresPeriodTables(std::unique_ptr<pg::Session> session)
      : session_(std::move(session)) {}

  std::unique_ptr<pg::Session> session_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_POSTGRES_PERIOD_TABLES_H_
