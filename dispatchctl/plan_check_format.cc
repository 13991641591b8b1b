#include "dispatchctl/plan_check_format.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "dispatchctl/format.h"

namespace cit::ctl {
namespace {

using Row = std::vector<std::string>;

// Left-aligned columns, two spaces apart, indented.
void PrintTable(std::ostream& out, const Row& header, const std::vector<Row>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  for (const Row* r : {&header}) {
    for (std::size_t i = 0; i < r->size(); ++i) width[i] = std::max(width[i], (*r)[i].size());
  }
  for (const Row& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  }
  auto print = [&](const Row& r) {
    std::string line = "  ";
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  };
  print(header);
  for (const Row& r : rows) print(r);
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f s", s);
  return buf;
}

std::string EventName(cit::v1::AlertEventType t) {
  std::string n = cit::v1::AlertEventType_Name(t);
  return n.rfind("ALERT_EVENT_TYPE_", 0) == 0 ? n.substr(17) : n;
}

std::string StopWindow(const cit::v1::StopReport& s) {
  if (!s.has_arrival_earliest() && !s.has_arrival_latest()) return "(no window)";
  return FormatTime(s.arrival_earliest()) + " .. " + FormatTime(s.arrival_latest());
}

std::string StopFlags(const cit::v1::StopReport& s) {
  std::string flags;
  for (auto [on, name] : {std::pair{s.early(), "early"}, std::pair{s.late(), "late"},
                          std::pair{s.out_of_order(), "out-of-order"}}) {
    if (!on) continue;
    if (!flags.empty()) flags += ",";
    flags += name;
  }
  return flags.empty() ? "-" : flags;
}

}  // namespace

std::string FormatPlanCheck(const cit::v1::CheckPlanResponse& r) {
  std::ostringstream out;
  out << "Plan check";
  if (!r.plan_run_id().empty())
    out << " against run " << r.plan_run_id() << " v" << r.plan_version();
  out << ": " << r.fixes() << " fixes (" << r.records() << " records) from "
      << FormatTime(r.first_fix_time()) << " to " << FormatTime(r.last_fix_time()) << "\n";
  out << "Alerts that would have been raised (" << r.alerts_size() << ")\n";
  std::vector<Row> rows;
  for (const cit::v1::Alert& a : r.alerts()) {
    rows.push_back({FormatTime(a.event_time()), SeverityName(a.severity()), KindName(a.kind()),
                    a.subject().empty() ? "-" : a.subject(),
                    a.occurrences() > 1 ? "x" + std::to_string(a.occurrences()) : "-",
                    a.has_condition_cleared_time() ? FormatTime(a.condition_cleared_time()) : "-",
                    a.details()});
  }
  if (!rows.empty()) {
    PrintTable(out, {"EVENT TIME", "SEVERITY", "KIND", "SUBJECT", "AGAIN", "CLEARED", "DETAILS"},
               rows);
  }
  if (r.events_size() > 0) {
    out << "Alert events (" << r.events_size();
    if (r.events_omitted() > 0) out << " shown, " << r.events_omitted() << " more";
    out << ")\n";
    rows.clear();
    for (const cit::v1::AlertEvent& e : r.events()) {
      // The server sets each event's detected_time to when it happened on the check's clock.
      const auto& when = e.alert().detected_time();
      rows.push_back({FormatTime(when), EventName(e.type()), KindName(e.alert().kind()),
                      e.alert().subject().empty() ? "-" : e.alert().subject()});
    }
    PrintTable(out, {"TIME", "EVENT", "KIND", "SUBJECT"}, rows);
  }
  out << "Stops (" << r.stops_size() << ")\n";
  rows.clear();
  for (const cit::v1::StopReport& s : r.stops()) {
    const bool arrived = s.has_arrived();
    rows.push_back({s.stop_id(), StopStatusName(s.status()), StopWindow(s), FormatTime(s.arrived()),
                    FormatTime(s.departed()), arrived ? Seconds(s.dwell_s()) : "-", StopFlags(s)});
  }
  if (!rows.empty()) {
    PrintTable(out, {"STOP", "STATUS", "WINDOW", "ARRIVED", "DEPARTED", "DWELL", "FLAGS"}, rows);
  }
  return out.str();
}

}  // namespace cit::ctl
