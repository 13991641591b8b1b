#include "dispatchctl/period_report_format.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <sstream>

namespace cit::ctl {
namespace {

using google::protobuf::util::TimeUtil;

std::string Strip(std::string name, std::string_view prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Num(double v) { return fmt::format("{:.3f}", v); }

std::string Duration(double s) {
  if (s < 60) return fmt::format("{:.1f} s", s);
  if (s < 3600) return fmt::format("{:.0f}m{:02.0f}s", std::floor(s / 60), std::fmod(s, 60));
  return fmt::format("{:.0f}h{:02.0f}m", std::floor(s / 3600), std::fmod(s, 3600) / 60);
}

std::string Percent(uint64_t part, uint64_t whole) {
  return whole == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * part / whole);
}

uint64_t Visited(const cit::v1::StopPunctuality& s) { return s.on_time() + s.early() + s.late(); }
uint64_t AllStops(const cit::v1::StopPunctuality& s) {
  return Visited(s) + s.missed() + s.skipped();
}

std::string BucketLabel(int minutes) {
  if (minutes == 0) return "on time";
  const std::string edge = std::abs(minutes) >= 30 ? ">=" : "";
  return fmt::format("{}{} min {}", edge, std::abs(minutes), minutes < 0 ? "early" : "late");
}

}  // namespace

std::string KindLabel(cit::v1::AlertKind kind) {
  return Strip(cit::v1::AlertKind_Name(kind), "ALERT_KIND_");
}
std::string SeverityLabel(cit::v1::Severity severity) {
  return Strip(cit::v1::Severity_Name(severity), "SEVERITY_");
}

std::string FormatPeriodTable(const cit::v1::PeriodReport& r) {
  std::ostringstream o;
  o << "Period report  " << TimeUtil::ToString(r.from()) << " .. " << TimeUtil::ToString(r.to())
    << "\n";
  o << "  vehicles   "
    << (r.vehicle_ids().empty() ? std::string("whole fleet")
                                : fmt::format("{} selected", r.vehicle_ids_size()))
    << ", " << r.vehicles() << " with runs\n";
  o << "Runs\n"
    << fmt::format("  planned {}  completed {}  aborted {}  in progress {}  not dispatched {}\n",
                   r.runs_planned(), r.runs_completed(), r.runs_aborted(), r.runs_in_progress(),
                   r.runs_not_dispatched());
  const cit::v1::StopPunctuality& t = r.punctuality().total();
  o << "Stop punctuality (ended runs)\n"
    << fmt::format("  {} stops: on time {} ({})  early {}  late {}  missed {}  skipped {}\n",
                   AllStops(t), t.on_time(), Percent(t.on_time(), AllStops(t)), t.early(), t.late(),
                   t.missed(), t.skipped());
  if (r.punctuality().buckets_size() > 0) {
    o << "  distribution\n";
    for (const auto& b : r.punctuality().buckets()) {
      o << fmt::format("    {:>16}  {:>6}\n", BucketLabel(b.minutes()), b.stops());
    }
  }
  if (r.punctuality().sites_size() > 0) {
    o << fmt::format("  {:<28} {:>7} {:>6} {:>6} {:>6} {:>7}\n", "SITE", "ON TIME", "EARLY", "LATE",
                     "MISSED", "SKIPPED");
    for (const auto& s : r.punctuality().sites()) {
      o << fmt::format("  {:<28} {:>7} {:>6} {:>6} {:>6} {:>7}\n", s.site(), s.on_time(), s.early(),
                       s.late(), s.missed(), s.skipped());
    }
  }
  o << "Alerts (" << r.alerts_total() << ")\n";
  if (r.alerts_size() > 0) {
    o << fmt::format("  {:<26} {:<9} {:>6}\n", "KIND", "SEVERITY", "COUNT");
    for (const auto& a : r.alerts()) {
      o << fmt::format("  {:<26} {:<9} {:>6}\n", KindLabel(a.kind()), SeverityLabel(a.severity()),
                       a.count());
    }
  }
  auto times = [&](const char* title, const auto& rows) {
    if (rows.empty()) return;
    o << title << "\n"
      << fmt::format("  {:<12} {:>6} {:>6} {:>9} {:>9} {:>8} {:>12} {:>12}\n", "", "RAISED",
                     "ACKED", "ACK p50", "ACK p95", "RESOLVED", "RESOLVE p50", "RESOLVE p95");
    for (const cit::v1::ResponseTimes& x : rows) {
      o << fmt::format("  {:<12} {:>6} {:>6} {:>9} {:>9} {:>8} {:>12} {:>12}\n", x.key(),
                       x.raised(), x.acknowledged(),
                       x.acknowledged() ? Duration(x.ack_p50_s()) : "-",
                       x.acknowledged() ? Duration(x.ack_p95_s()) : "-", x.resolved(),
                       x.resolved() ? Duration(x.resolve_p50_s()) : "-",
                       x.resolved() ? Duration(x.resolve_p95_s()) : "-");
    }
  };
  times("Response times by severity", r.by_severity());
  times("Response times by operator", r.by_operator());
  o << "Deviations\n"
    << fmt::format("  {} route deviations, {:.2f} km and {} off route\n", r.deviations(),
                   r.off_route_km(), Duration(r.off_route_s()));
  o << "Data completeness (ended runs)\n"
    << fmt::format(
           "  {} records ({} fixes), {} gaps over {} ({} total), {} delayed records ({}), "
           "{} sequence gaps\n",
           r.records(), r.fixes(), r.gaps(), "60 s", Duration(r.gap_total_s()), r.delayed_records(),
           Percent(r.delayed_records(), r.records()), r.seq_gaps());
  o << fmt::format("Built in {:.3f} s on the server ({} runs summarised for this report)\n",
                   r.build_s(), r.runs_summarised());
  return o.str();
}

std::string FormatPeriodCsv(const cit::v1::PeriodReport& r) {
  std::ostringstream o;
  o << "section,group,item,metric,value\n";
  auto line = [&](std::string_view section, std::string_view group, std::string_view item,
                  std::string_view metric, const std::string& value) {
    o << section << ',' << CsvField(group) << ',' << CsvField(item) << ',' << metric << ',' << value
      << "\n";
  };
  line("period", "", "", "from", TimeUtil::ToString(r.from()));
  line("period", "", "", "to", TimeUtil::ToString(r.to()));
  for (const auto& v : r.vehicle_ids()) line("period", "vehicle", v, "selected", "1");
  line("runs", "", "", "planned", std::to_string(r.runs_planned()));
  line("runs", "", "", "completed", std::to_string(r.runs_completed()));
  line("runs", "", "", "aborted", std::to_string(r.runs_aborted()));
  line("runs", "", "", "in_progress", std::to_string(r.runs_in_progress()));
  line("runs", "", "", "not_dispatched", std::to_string(r.runs_not_dispatched()));
  line("runs", "", "", "vehicles", std::to_string(r.vehicles()));
  auto stops = [&](std::string_view group, const cit::v1::StopPunctuality& s) {
    line("punctuality", group, s.site(), "on_time", std::to_string(s.on_time()));
    line("punctuality", group, s.site(), "early", std::to_string(s.early()));
    line("punctuality", group, s.site(), "late", std::to_string(s.late()));
    line("punctuality", group, s.site(), "missed", std::to_string(s.missed()));
    line("punctuality", group, s.site(), "skipped", std::to_string(s.skipped()));
  };
  stops("total", r.punctuality().total());
  for (const auto& b : r.punctuality().buckets()) {
    line("punctuality", "minutes", std::to_string(b.minutes()), "stops", std::to_string(b.stops()));
  }
  for (const auto& s : r.punctuality().sites()) stops("site", s);
  for (const auto& a : r.alerts()) {
    line("alerts", SeverityLabel(a.severity()), KindLabel(a.kind()), "count",
         std::to_string(a.count()));
  }
  line("alerts", "", "", "total", std::to_string(r.alerts_total()));
  auto times = [&](std::string_view group, const auto& rows) {
    for (const cit::v1::ResponseTimes& x : rows) {
      line("response", group, x.key(), "raised", std::to_string(x.raised()));
      line("response", group, x.key(), "acknowledged", std::to_string(x.acknowledged()));
      line("response", group, x.key(), "resolved", std::to_string(x.resolved()));
      line("response", group, x.key(), "ack_p50_s", Num(x.ack_p50_s()));
      line("response", group, x.key(), "ack_p95_s", Num(x.ack_p95_s()));
      line("response", group, x.key(), "resolve_p50_s", Num(x.resolve_p50_s()));
      line("response", group, x.key(), "resolve_p95_s", Num(x.resolve_p95_s()));
    }
  };
  times("severity", r.by_severity());
  times("operator", r.by_operator());
  line("deviations", "", "", "count", std::to_string(r.deviations()));
  line("deviations", "", "", "off_route_km", Num(r.off_route_km()));
  line("deviations", "", "", "off_route_s", Num(r.off_route_s()));
  line("completeness", "", "", "records", std::to_string(r.records()));
  line("completeness", "", "", "fixes", std::to_string(r.fixes()));
  line("completeness", "", "", "gaps", std::to_string(r.gaps()));
  line("completeness", "", "", "gap_total_s", Num(r.gap_total_s()));
  line("completeness", "", "", "delayed_records", std::to_string(r.delayed_records()));
  line("completeness", "", "", "seq_gaps", std::to_string(r.seq_gaps()));
  return o.str();
}

std::string FormatPeriodJson(const cit::v1::PeriodReport& r) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.add_whitespace = true;
  opts.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(r, &json, opts);
  return json;
}

}  // namespace cit::ctl
