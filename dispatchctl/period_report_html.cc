// The HTML form of the period report: one file, inline CSS and SVG, no script.
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

#include "common/markup_escape.h"
#include "dispatchctl/period_report_format.h"

namespace cit::ctl {
namespace {

using google::protobuf::util::TimeUtil;

struct Segment {
  double value;
  const char* color;
  std::string title;
};
struct Bar {
  std::string label;
  std::vector<Segment> segments;
};

constexpr const char* kOnTime = "#2e7d32";
constexpr const char* kEarly = "#1565c0";
constexpr const char* kLate = "#c62828";
constexpr const char* kMissed = "#6d4c41";
constexpr const char* kSkipped = "#9e9e9e";

const char* SeverityColor(cit::v1::Severity s) {
  switch (s) {
    case cit::v1::SEVERITY_CRITICAL:
      return "#b71c1c";
    case cit::v1::SEVERITY_HIGH:
      return "#e65100";
    case cit::v1::SEVERITY_MEDIUM:
      return "#f9a825";
    default:
      return "#607d8b";
  }
}

// Horizontal bars, segments stacked; each segment's <title> gives its figure on hover.
std::string HBars(std::string_view caption, const std::vector<Bar>& bars, std::string_view unit) {
  if (bars.empty()) return "";
  double max = 0;
  for (const Bar& b : bars) {
    double sum = 0;
    for (const Segment& s : b.segments) sum += s.value;
    max = std::max(max, sum);
  }
  if (max <= 0) max = 1;
  const int label_w = 220, bar_w = 420, row_h = 22;
  const int height = static_cast<int>(bars.size()) * row_h + 8;
  std::ostringstream o;
  o << fmt::format(
      "<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" xmlns=\"http://www.w3.org/2000/svg\">",
      EscapeMarkup(caption), label_w + bar_w + 80, height, label_w + bar_w + 80, height);
  int y = 4;
  for (const Bar& b : bars) {
    o << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
                     label_w - 6, y + 15, EscapeMarkup(b.label));
    double x = label_w, sum = 0;
    for (const Segment& s : b.segments) {
      const double w = s.value / max * bar_w;
      if (w > 0) {
        o << fmt::format(
            "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}"
            "</title></rect>",
            x, y + 2, w, row_h - 6, s.color, EscapeMarkup(s.title));
      }
      x += w;
      sum += s.value;
    }
    o << fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"12\">{}{}</text>", x + 4, y + 15,
                     fmt::format("{:g}", std::round(sum * 10) / 10), unit);
    y += row_h;
  }
  o << "</svg></figure>\n";
  return o.str();
}

// The minutes distribution as vertical bars, early left, late right.
std::string Distribution(const cit::v1::Punctuality& p) {
  if (p.buckets().empty()) return "";
  int lo = 0, hi = 0;
  std::map<int, uint64_t> n;
  uint64_t max = 1;
  for (const auto& b : p.buckets()) {
    lo = std::min(lo, b.minutes());
    hi = std::max(hi, b.minutes());
    n[b.minutes()] = b.stops();
    max = std::max<uint64_t>(max, b.stops());
  }
  const int col_w = std::max(14, 560 / (hi - lo + 1)), plot_h = 160, top = 16;
  const int width = (hi - lo + 1) * col_w + 20, height = plot_h + top + 34;
  std::ostringstream o;
  o << fmt::format(
      "<figure><figcaption>Arrival against the window, minutes (early &lt; 0 &lt; late)"
      "</figcaption><svg role=\"img\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "xmlns=\"http://www.w3.org/2000/svg\">",
      width, height, width, height);
  for (int m = lo; m <= hi; ++m) {
    const int x = 10 + (m - lo) * col_w;
    const uint64_t c = n.count(m) ? n[m] : 0;
    const double h = static_cast<double>(c) / static_cast<double>(max) * plot_h;
    const char* color = m < 0 ? kEarly : m > 0 ? kLate : kOnTime;
    if (c > 0) {
      o << fmt::format(
          "<rect x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" fill=\"{}\"><title>{} "
          "stops at {} min</title></rect><text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" "
          "text-anchor=\"middle\">{}</text>",
          x + 1, top + plot_h - h, col_w - 2, h, color, c, m, x + col_w / 2, top + plot_h - h - 3,
          c);
    }
    if (m == lo || m == hi || m == 0 || m % 5 == 0) {
      o << fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                       x + col_w / 2, top + plot_h + 14, m);
    }
  }
  o << fmt::format("<line x1=\"10\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>", top + plot_h,
                   width - 10, top + plot_h);
  o << "</svg></figure>\n";
  return o.str();
}

std::string Row(std::initializer_list<std::string> cells, bool head = false) {
  std::string out = "<tr>";
  for (const std::string& c : cells) out += head ? "<th>" + c + "</th>" : "<td>" + c + "</td>";
  return out + "</tr>";
}

std::string Seconds(double s) { return fmt::format("{:.0f} s", s); }

std::string TimesTable(std::string_view title, const auto& rows) {
  if (rows.empty()) return "";
  std::string o = fmt::format("<h3>{}</h3><table>", EscapeMarkup(title));
  o += Row({"", "raised", "acknowledged", "ack p50", "ack p95", "resolved", "resolve p50",
            "resolve p95"},
           true);
  for (const cit::v1::ResponseTimes& x : rows) {
    o += Row({EscapeMarkup(x.key()), std::to_string(x.raised()), std::to_string(x.acknowledged()),
              x.acknowledged() ? Seconds(x.ack_p50_s()) : "-",
              x.acknowledged() ? Seconds(x.ack_p95_s()) : "-", std::to_string(x.resolved()),
              x.resolved() ? Seconds(x.resolve_p50_s()) : "-",
              x.resolved() ? Seconds(x.resolve_p95_s()) : "-"});
  }
  return o + "</table>\n";
}

}  // namespace

std::string FormatPeriodHtml(const cit::v1::PeriodReport& r) {
  const std::string from = TimeUtil::ToString(r.from());
  const std::string to = TimeUtil::ToString(r.to());
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<title>citwatch period report " << EscapeMarkup(from) << " .. " << EscapeMarkup(to)
    << "</title>"
    << "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#212121}"
       "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
       "padding:.2em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
       "figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}"
       ".legend span{display:inline-block;margin-right:1em}"
       ".legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em}</style>"
    << "</head><body>\n";
  o << "<h1>Period report</h1><p>" << EscapeMarkup(from) << " .. " << EscapeMarkup(to) << " (UTC), "
    << (r.vehicle_ids().empty() ? std::string("whole fleet")
                                : fmt::format("{} selected vehicles", r.vehicle_ids_size()))
    << ", " << r.vehicles() << " vehicles with runs.</p>\n";
  o << "<h2>Runs</h2><table>"
    << Row({"planned", "completed", "aborted", "in progress", "not dispatched"}, true)
    << Row({std::to_string(r.runs_planned()), std::to_string(r.runs_completed()),
            std::to_string(r.runs_aborted()), std::to_string(r.runs_in_progress()),
            std::to_string(r.runs_not_dispatched())})
    << "</table>\n";
  const auto& t = r.punctuality().total();
  o << "<h2>Stop punctuality</h2><table>"
    << Row({"stops", "on time", "early", "late", "missed", "skipped"}, true)
    << Row({std::to_string(t.on_time() + t.early() + t.late() + t.missed() + t.skipped()),
            std::to_string(t.on_time()), std::to_string(t.early()), std::to_string(t.late()),
            std::to_string(t.missed()), std::to_string(t.skipped())})
    << "</table>\n";
  o << "<p class=\"legend\">"
    << fmt::format("<span><i style=\"background:{}\"></i>on time</span>", kOnTime)
    << fmt::format("<span><i style=\"background:{}\"></i>early</span>", kEarly)
    << fmt::format("<span><i style=\"background:{}\"></i>late</span>", kLate)
    << fmt::format("<span><i style=\"background:{}\"></i>missed</span>", kMissed)
    << fmt::format("<span><i style=\"background:{}\"></i>skipped</span>", kSkipped) << "</p>\n";
  o << Distribution(r.punctuality());
  std::vector<Bar> sites;
  for (const auto& s : r.punctuality().sites()) {
    sites.push_back(
        {s.site(),
         {{static_cast<double>(s.on_time()), kOnTime, fmt::format("{} on time", s.on_time())},
          {static_cast<double>(s.early()), kEarly, fmt::format("{} early", s.early())},
          {static_cast<double>(s.late()), kLate, fmt::format("{} late", s.late())},
          {static_cast<double>(s.missed()), kMissed, fmt::format("{} missed", s.missed())},
          {static_cast<double>(s.skipped()), kSkipped, fmt::format("{} skipped", s.skipped())}}});
  }
  o << HBars("Stops by site", sites, "");
  o << "<h2>Alerts (" << r.alerts_total() << ")</h2>\n";
  std::vector<Bar> alerts;
  for (const auto& a : r.alerts()) {
    alerts.push_back({KindLabel(a.kind()) + " " + SeverityLabel(a.severity()),
                      {{static_cast<double>(a.count()), SeverityColor(a.severity()),
                        fmt::format("{} {} alerts", a.count(), SeverityLabel(a.severity()))}}});
  }
  o << HBars("Alerts by kind and severity", alerts, "");
  o << "<h2>Response times</h2>\n";
  std::vector<Bar> ack;
  for (const auto& x : r.by_severity()) {
    if (x.acknowledged() == 0) continue;
    ack.push_back({x.key() + " ack p50", {{x.ack_p50_s(), "#42a5f5", "p50"}}});
    ack.push_back({x.key() + " ack p95", {{x.ack_p95_s(), "#1565c0", "p95"}}});
    if (x.resolved() == 0) continue;
    ack.push_back({x.key() + " resolve p50", {{x.resolve_p50_s(), "#66bb6a", "p50"}}});
    ack.push_back({x.key() + " resolve p95", {{x.resolve_p95_s(), "#2e7d32", "p95"}}});
  }
  o << HBars("Seconds from detection, by severity", ack, " s");
  o << TimesTable("By severity", r.by_severity()) << TimesTable("By operator", r.by_operator());
  o << "<h2>Deviations</h2><table>"
    << Row({"route deviations", "km off route", "time off route"}, true)
    << Row({std::to_string(r.deviations()), fmt::format("{:.2f}", r.off_route_km()),
            Seconds(r.off_route_s())})
    << "</table>\n";
  o << "<h2>Data completeness</h2><table>"
    << Row({"records", "fixes", "gaps &gt; 60 s", "gap time", "delayed records", "sequence gaps"},
           true)
    << Row({std::to_string(r.records()), std::to_string(r.fixes()), std::to_string(r.gaps()),
            Seconds(r.gap_total_s()), std::to_string(r.delayed_records()),
            std::to_string(r.seq_gaps())})
    << "</table>\n";
  o << fmt::format(
      "<p><small>Built by dispatch-server in {:.3f} s. Stop, deviation and "
      "completeness figures count ended runs.</small></p>\n",
      r.build_s());
  o << "</body></html>\n";
  return o.str();
}

}  // namespace cit::ctl
