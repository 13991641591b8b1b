// `dispatchctl report`: the period report (cit.v1.PeriodReport) as a terminal table, CSV, JSON
// and a self-contained HTML page with inline SVG charts (no script, no external file: it can
// be mailed or archived as it is). docs/reports.md describes every figure.
//
//   std::cout << FormatPeriodTable(report);
//   std::ofstream("november.html") << FormatPeriodHtml(report);
//
// CSV is long form, one figure a line: section,group,item,metric,value (e.g.
// "punctuality,site,Depot Zurich,late,3"), ready for a spreadsheet's pivot table.
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCHCTL_PERIOD_REPORT_FORMAT_H_
#define CIT_DISPATCHCTL_PERIOD_REPORT_FORMAT_H_

#include <string>
#include <string_view>

#include "cit/v1/dispatch.pb.h"

namespace cit::ctl {

std::string FormatPeriodTable(const cit::v1::PeriodReport& r);
std::string FormatPeriodCsv(const cit::v1::PeriodReport& r);
// Pretty-printed, proto field names (the API's JSON mapping).
std::string FormatPeriodJson(const cit::v1::PeriodReport& r);
std::string FormatPeriodHtml(const cit::v1::PeriodReport& r);

// "ROUTE_DEVIATION" for ALERT_KIND_ROUTE_DEVIATION, "HIGH" for SEVERITY_HIGH.
std::string KindLabel(cit::v1::AlertKind kind);
std::string SeverityLabel(cit::v1::Severity severity);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_PERIOD_REPORT_FORMAT_H_
