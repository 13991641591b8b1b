#include "dispatchctl/format.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string_view>
#include <vector>

namespace cit::ctl {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

std::string StripPrefix(std::string name, std::string_view prefix) {
  if (name.rfind(prefix, 0) == 0) name.erase(0, prefix.size());
  return name;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Km(double m) { return Fixed(m / 1000.0, 2) + " km"; }

std::string Duration(double s) {
  if (s < 0) s = 0;
  long total = std::lround(s);
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm%02lds", total / 3600, (total / 60) % 60, total % 60);
  } else if (total >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", total / 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", total);
  }
  return buf;
}

// Plain-text table: header row, then rows; columns padded to their widest cell.
std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows,
                  const std::string& indent = "") {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = indent;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      s += cells[c];
      if (c + 1 < cells.size()) s += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    out << s << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out.str();
}

const char* SeverityColor(cit::v1::Severity s) {
  switch (s) {
    case cit::v1::SEVERITY_CRITICAL:
      return "\033[1;31m";  // bold red
    case cit::v1::SEVERITY_HIGH:
      return "\033[31m";  // red
    case cit::v1::SEVERITY_MEDIUM:
      return "\033[33m";  // yellow
    case cit::v1::SEVERITY_LOW:
      return "\033[36m";  // cyan
    default:
      return "";
  }
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// The receiver's last reported state, loud when it is not delivering fixes.
std::string GnssText(cit::v1::GnssState s) {
  switch (s) {
    case cit::v1::GNSS_STATE_FIX_ACQUIRED:
      return "fix";
    case cit::v1::GNSS_STATE_GPSD_CONNECTED:
      return "gpsd up";
    case cit::v1::GNSS_STATE_FIX_LOST:
      return "NO FIX";
    case cit::v1::GNSS_STATE_GPSD_DISCONNECTED:
      return "NO GPSD";
    case cit::v1::GNSS_STATE_TIME_SUSPECT:
      return "TIME SUSPECT";
    default:
      return "-";
  }
}

// "0", or "3 (1 critical, 2 high)": the severities an operator acts on first, first.
std::string AlertCounts(const cit::v1::VehicleState& v) {
  std::string out = std::to_string(v.open_alerts());
  std::string parts;
  for (const auto& [n, name] : {std::pair{v.open_alerts_critical(), "critical"},
                                {v.open_alerts_high(), "high"},
                                {v.open_alerts_medium(), "medium"},
                                {v.open_alerts_low(), "low"}}) {
    if (n == 0) continue;
    if (!parts.empty()) parts += ", ";
    parts += std::to_string(n) + " " + name;
  }
  return parts.empty() ? out : out + " (" + parts + ")";
}

}  // namespace

std::string FormatTime(const Timestamp& t) { return IsSet(t) ? TimeUtil::ToString(t) : "-"; }
std::string KindName(cit::v1::AlertKind k) {
  return StripPrefix(cit::v1::AlertKind_Name(k), "ALERT_KIND_");
}
std::string SeverityName(cit::v1::Severity s) {
  return StripPrefix(cit::v1::Severity_Name(s), "SEVERITY_");
}
std::string AlertStateName(cit::v1::AlertState s) {
  return StripPrefix(cit::v1::AlertState_Name(s), "ALERT_STATE_");
}
std::string RunStateName(cit::v1::RunState s) {
  return StripPrefix(cit::v1::RunState_Name(s), "RUN_STATE_");
}
std::string StopStatusName(cit::v1::StopStatus s) {
  return StripPrefix(cit::v1::StopStatus_Name(s), "STOP_STATUS_");
}

std::string FormatAlert(const cit::v1::Alert& a, const AlertLineStyle& style) {
  std::ostringstream out;
  const char* on = style.color ? SeverityColor(a.severity()) : "";
  const char* off = style.color && *on ? "\033[0m" : "";
  out << WallClockText(a.event_time(), style.zone) << "  " << on << "#" << a.alert_id() << " "
      << SeverityName(a.severity()) << " " << KindName(a.kind()) << off << "  " << a.vehicle_id();
  if (!a.run_id().empty()) out << " run " << a.run_id();
  if (!a.subject().empty()) out << " [" << a.subject() << "]";
  if (style.place && a.has_position() &&
      (a.position().lat_deg() != 0 || a.position().lon_deg() != 0)) {
    out << " at " << Fixed(a.position().lat_deg(), 6) << "," << Fixed(a.position().lon_deg(), 6);
    const std::string note = style.place_note ? style.place_note(a) : "";
    if (!note.empty()) out << " (" << note << ")";
  }
  out << "  " << AlertStateName(a.state());
  // A condition that came back: when it came back, not only when it first happened.
  if (a.occurrences() > 1) {
    out << " x" << a.occurrences();
    if (a.has_last_event_time()) {
      out << " (last " << WallClockText(a.last_event_time(), style.zone) << ")";
    }
  }
  if (a.escalation_step() > 0) out << " step " << a.escalation_step();
  if (a.delayed()) out << " (delayed " << Fixed(a.delay_s(), 0) << " s)";
  if (a.has_condition_cleared_time()) out << " (condition cleared)";
  if (!a.details().empty()) out << "  " << a.details();
  if (!a.actions().empty()) {
    const auto& last = a.actions(a.actions_size() - 1);
    if (last.state() != cit::v1::ALERT_STATE_OPEN) {
      out << "  by " << last.actor();
      if (!last.comment().empty()) out << " " << Quoted(last.comment());
    }
  }
  return out.str();
}

std::string FormatAlertEvent(const cit::v1::AlertEvent& e, const AlertLineStyle& style) {
  // What changed leads the line: a watcher must tell a new alert from one that got worse
  // (ESCALATED) or came back (REOCCURRED).
  // A watch that starts from the present first gets the alerts still open, without an event
  // type (WatchAlertsRequest): they are the current state, not something that just happened.
  std::string type = e.type() == cit::v1::ALERT_EVENT_TYPE_UNSPECIFIED
                         ? "CURRENT"
                         : StripPrefix(cit::v1::AlertEventType_Name(e.type()), "ALERT_EVENT_TYPE_");
  type.resize(std::max<size_t>(type.size() + 1, 13), ' ');  // ACKNOWLEDGED is the longest
  return type + FormatAlert(e.alert(), style);
}

std::string FormatAlertTable(const cit::v1::ListAlertsResponse& alerts, TimeZoneChoice zone,
                             const PlaceNote& place_note) {
  std::vector<std::vector<std::string>> rows;
  for (const cit::v1::Alert& a : alerts.alerts()) {
    std::string by = "-";
    if (!a.actions().empty() &&
        a.actions(a.actions_size() - 1).state() != cit::v1::ALERT_STATE_OPEN) {
      by = a.actions(a.actions_size() - 1).actor();
    }
    std::string place = place_note ? place_note(a) : "";
    if (place.empty() && a.has_position() &&
        (a.position().lat_deg() != 0 || a.position().lon_deg() != 0)) {
      place = Fixed(a.position().lat_deg(), 5) + "," + Fixed(a.position().lon_deg(), 5);
    }
    rows.push_back({"#" + std::to_string(a.alert_id()), WallClockText(a.event_time(), zone),
                    SeverityName(a.severity()), KindName(a.kind()), a.vehicle_id(),
                    a.run_id().empty() ? "-" : a.run_id(), a.subject().empty() ? "-" : a.subject(),
                    AlertStateName(a.state()), by, place.empty() ? "-" : place, a.details()});
  }
  return Table({"ID", "TIME", "SEVERITY", "KIND", "VEHICLE", "RUN", "SUBJECT", "STATE", "BY",
                "PLACE", "DETAILS"},
               rows);
}

namespace {

// The event's own time; events stored before servers recorded it carry it only in the alert.
const Timestamp& EventTime(const cit::v1::AlertEvent& e) {
  const cit::v1::Alert& a = e.alert();
  if (e.has_time()) return e.time();
  switch (e.type()) {
    case cit::v1::ALERT_EVENT_TYPE_RAISED:
      return a.detected_time();
    case cit::v1::ALERT_EVENT_TYPE_UPDATED:
    case cit::v1::ALERT_EVENT_TYPE_REOCCURRED:
      return a.last_event_time();
    case cit::v1::ALERT_EVENT_TYPE_CLEARED:
      return a.condition_cleared_time();
    case cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED:
    case cit::v1::ALERT_EVENT_TYPE_RESOLVED:
      if (!a.actions().empty()) return a.actions(a.actions_size() - 1).time();
      break;
    default:
      break;
  }
  return Timestamp::default_instance();
}

}  // namespace

std::string FormatAlertHistory(const cit::v1::ListAlertEventsResponse& h, TimeZoneChoice zone) {
  std::string out = FormatAlert(h.alert(), {.zone = zone}) + "\n\n";
  std::vector<std::vector<std::string>> rows;
  const cit::v1::Alert* before = nullptr;
  for (int i = 0; i < h.events_size(); ++i) {
    const cit::v1::AlertEvent& e = h.events(i);
    if (h.events_omitted() > 0 && i == (h.events_size() + 1) / 2) {
      rows.push_back({"...", std::to_string(h.events_omitted()) + " events not shown", "", "", ""});
    }
    std::string what = StripPrefix(cit::v1::AlertEventType_Name(e.type()), "ALERT_EVENT_TYPE_");
    std::string text = e.alert().details();
    if (e.type() == cit::v1::ALERT_EVENT_TYPE_ESCALATED && e.actor() == "escalation") {
      what += " (policy step " + std::to_string(e.alert().policy_step()) + ")";
      text = e.comment();
    } else if (e.type() == cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED ||
               e.type() == cit::v1::ALERT_EVENT_TYPE_RESOLVED) {
      text = e.comment().empty() ? "no comment" : Quoted(e.comment());
    }
    std::string severity = SeverityName(e.alert().severity());
    if (before != nullptr && before->severity() != e.alert().severity()) {
      severity = SeverityName(before->severity()) + " -> " + severity;
    }
    rows.push_back({WallClockText(EventTime(e), zone), what, e.actor().empty() ? "-" : e.actor(),
                    severity, text});
    before = &e.alert();
  }
  out += Table({"TIME", "EVENT", "BY", "SEVERITY", "WHAT"}, rows);
  if (h.updated_omitted() > 0) {
    out += "(" + std::to_string(h.updated_omitted()) +
           " updates while the condition lasted are not listed; --updates lists them)\n";
  }
  return out;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.add_whitespace = false;
  (void)google::protobuf::util::MessageToJsonString(message, &out, opts);
  return out;
}

std::string FormatRun(const cit::v1::Run& run) {
  const cit::v1::RunPlan& p = run.plan();
  std::ostringstream out;
  out << "Run " << p.run_id() << "  vehicle " << p.vehicle_id() << "  state "
      << RunStateName(run.state()) << "  version " << run.version() << "\n";
  out << "  created    " << FormatTime(run.created_time()) << " by " << run.created_by() << "\n";
  if (IsSet(run.dispatched_time())) {
    out << "  dispatched " << FormatTime(run.dispatched_time()) << " by " << run.dispatched_by()
        << "\n";
  }
  if (IsSet(run.started_time())) out << "  started    " << FormatTime(run.started_time()) << "\n";
  if (IsSet(run.ended_time())) {
    out << "  ended      " << FormatTime(run.ended_time()) << " by " << run.ended_by();
    if (!run.end_comment().empty()) out << " " << Quoted(run.end_comment());
    out << "\n";
  }
  out << "  planned    " << FormatTime(p.planned_start()) << " .. " << FormatTime(p.planned_end())
      << "\n";
  if (!p.crew_badges().empty()) {
    out << "  crew      ";
    for (const auto& b : p.crew_badges()) out << " " << b;
    out << "\n";
  }
  out << "  route      " << p.route().points_size() << " points, corridor ";
  if (p.route().corridor_half_width_m() > 0) {
    out << Fixed(p.route().corridor_half_width_m(), 0) << " m\n";
  } else {
    out << "150 m (default)\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : p.stops()) {
    rows.push_back({s.stop_id(), s.name(),
                    Fixed(s.position().lat_deg(), 5) + "," + Fixed(s.position().lon_deg(), 5),
                    Fixed(s.radius_m(), 0) + " m", FormatTime(s.arrival_earliest()),
                    FormatTime(s.arrival_latest()), s.doors_may_open() ? "yes" : "no"});
  }
  if (!rows.empty()) {
    out << "  stops\n"
        << Table({"ID", "NAME", "POSITION", "RADIUS", "EARLIEST", "LATEST", "DOORS"}, rows, "    ");
  }
  if (!p.notes().empty()) out << "  notes      " << p.notes() << "\n";
  return out.str();
}

std::string FormatRunTable(const cit::v1::ListRunsResponse& runs) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : runs.runs()) {
    rows.push_back({r.plan().run_id(), r.plan().vehicle_id(), RunStateName(r.state()),
                    std::to_string(r.version()), FormatTime(r.plan().planned_start()),
                    std::to_string(r.plan().stops_size())});
  }
  return Table({"RUN", "VEHICLE", "STATE", "VERSION", "PLANNED START", "STOPS"}, rows);
}

std::string FormatFleet(const cit::v1::Fleet& fleet) {
  std::vector<const cit::v1::VehicleState*> vehicles;
  for (const auto& v : fleet.vehicles()) vehicles.push_back(&v);
  std::sort(vehicles.begin(), vehicles.end(), [](const auto* a, const auto* b) {
    return NaturalLess(a->vehicle_id(), b->vehicle_id());
  });
  std::vector<std::vector<std::string>> rows;
  for (const cit::v1::VehicleState* p : vehicles) {
    const cit::v1::VehicleState& v = *p;
    const bool run = !v.run_id().empty();
    rows.push_back({v.vehicle_id(),
                    v.has_last_fix_time() ? Duration(v.last_fix_age_s()) + " ago" : "never",
                    GnssText(v.gnss_state()), v.connected() ? "up" : "down", run ? v.run_id() : "-",
                    run ? RunStateName(v.run_state()) : "-",
                    run ? Fixed(v.progress_fraction() * 100.0, 0) + "%" : "-",
                    v.next_stop_id().empty() ? "-" : v.next_stop_id(), EtaText(v, fleet.as_of()),
                    AlertCounts(v)});
  }
  return Table({"VEHICLE", "LAST FIX", "GNSS", "LINK", "RUN", "STATE", "PROGRESS", "NEXT STOP",
                "ETA", "ALERTS"},
               rows);
}

std::string FormatVehicleLine(const cit::v1::VehicleState& v) {
  std::ostringstream out;
  out << v.vehicle_id();
  if (v.has_last_fix()) {
    out << " " << Fixed(v.last_fix().lat_deg(), 6) << "," << Fixed(v.last_fix().lon_deg(), 6);
    if (v.has_heading_deg()) out << " hdg " << Fixed(v.heading_deg(), 0);
    if (v.has_speed_mps()) out << " " << Fixed(v.speed_mps() * 3.6, 0) << " km/h";
    out << " at " << FormatTime(v.last_fix_time());
  } else {
    out << " no fix";
  }
  out << (v.connected() ? " connected" : " silent");
  if (!v.run_id().empty()) {
    out << " run " << v.run_id() << " " << RunStateName(v.run_state());
    if (!v.next_stop_id().empty()) {
      out << " next " << v.next_stop_id();
      if (v.has_next_stop_eta()) out << " eta " << FormatTime(v.next_stop_eta());
      if (v.next_stop_late()) out << " LATE";
    }
  }
  out << " alerts " << v.open_alerts();
  return out.str();
}

std::string FormatReport(const cit::v1::RunReport& r) {
  std::ostringstream out;
  out << FormatRun(r.run());
  out << "Track\n";
  out << "  fixes      " << r.fixes() << " from " << FormatTime(r.first_fix_time()) << " to "
      << FormatTime(r.last_fix_time()) << "\n";
  out << "  distance   driven " << Km(r.distance_m()) << ", planned " << Km(r.planned_distance_m())
      << "\n";
  out << "  off route  " << Duration(r.off_route_s()) << " over " << Km(r.off_route_distance_m())
      << "\n";
  out << "  doors      " << r.door_events() << " door events\n";
  out << "Stops (planned against actual)\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : r.stops()) {
    std::string flags;
    auto add = [&](bool on, const char* f) {
      if (!on) return;
      if (!flags.empty()) flags += ",";
      flags += f;
    };
    add(s.early(), "early");
    add(s.late(), "late");
    add(s.out_of_order(), "out-of-order");
    rows.push_back({s.stop_id(), StopStatusName(s.status()),
                    FormatTime(s.arrival_earliest()) + " .. " + FormatTime(s.arrival_latest()),
                    FormatTime(s.arrived()), FormatTime(s.departed()),
                    s.has_arrived() ? Duration(s.dwell_s()) : "-",
                    std::to_string(s.door_openings()), flags.empty() ? "-" : flags});
  }
  out << Table({"STOP", "STATUS", "WINDOW", "ARRIVED", "DEPARTED", "DWELL", "DOORS", "FLAGS"}, rows,
               "  ");
  out << "Alerts (" << r.alerts_size() << ")\n";
  for (const auto& a : r.alerts()) {
    out << "  #" << a.alert_id() << " " << SeverityName(a.severity()) << " " << KindName(a.kind());
    if (!a.subject().empty()) out << " [" << a.subject() << "]";
    out << "  event " << FormatTime(a.event_time()) << "  " << AlertStateName(a.state());
    if (a.occurrences() > 1) out << " x" << a.occurrences();
    if (a.escalation_step() > 0) out << " escalation step " << a.escalation_step();
    out << "\n";
    if (a.occurrences() > 1 && a.has_last_event_time()) {
      // Each occurrence's own time (the latest 16 are kept; the first is "event" above).
      out << "      last     " << FormatTime(a.last_event_time()) << "  (occurrence "
          << a.occurrences() << ")\n";
      if (a.occurrence_times_size() > 1) {
        out << "      occurred";
        for (const auto& t : a.occurrence_times()) out << " " << FormatTime(t);
        out << "\n";
      }
    }
    if (!a.details().empty()) out << "      " << a.details() << "\n";
    out << "      raised   " << FormatTime(a.detected_time());
    if (a.delayed()) out << " (delayed " << Fixed(a.delay_s(), 0) << " s)";
    // The plan version the vehicle was judged against when the alert was raised.
    if (a.plan_version() > 0) out << " under plan v" << a.plan_version();
    out << "\n";
    if (a.has_condition_cleared_time()) {
      out << "      cleared  " << FormatTime(a.condition_cleared_time()) << "\n";
    }
    for (const auto& act : a.actions()) {
      if (act.state() == cit::v1::ALERT_STATE_OPEN) continue;
      out << "      "
          << (act.state() == cit::v1::ALERT_STATE_ACKNOWLEDGED ? "acked    " : "resolved ")
          << FormatTime(act.time()) << " by " << act.actor();
      if (!act.comment().empty()) out << " " << Quoted(act.comment());
      out << "\n";
    }
  }
  out << "Chain head  " << (r.chain_head().empty() ? "-" : r.chain_head()) << "\n";
  return out.str();
}

std::string FormatVerify(const cit::v1::VerifyChainResponse& v) {
  std::ostringstream out;
  const cit::v1::ChainResult* broken = nullptr;
  for (const auto& c : v.chains()) {
    if (!c.intact()) {
      broken = &c;
      break;
    }
  }
  if (v.intact() && v.vehicle_id().empty()) {
    const cit::v1::ChainResult* ids =
        v.chains_size() > 0 ? &v.chains(v.chains_size() - 1) : nullptr;
    out << "identity log intact: " << (ids != nullptr ? ids->entries_checked() : 0)
        << " entries verified, head " << (ids == nullptr || ids->head().empty() ? "-" : ids->head())
        << "\n";
  } else if (v.intact()) {
    out << "chain of " << v.vehicle_id() << " intact: " << v.records_checked()
        << " records verified, head " << (v.chain_head().empty() ? "-" : v.chain_head()) << "\n";
  } else if (!v.vehicle_id().empty() &&
             (broken == nullptr || broken->chain() == "records/" + v.vehicle_id())) {
    out << "chain of " << v.vehicle_id() << " BROKEN at "
        << (broken != nullptr ? broken->first_bad()
                              : "record seq " + std::to_string(v.first_bad_seq()))
        << ": " << (broken != nullptr ? broken->problem() : v.problem()) << " ("
        << v.records_checked() << " records checked)\n";
  } else if (broken == nullptr) {
    out << "BROKEN: " << v.problem() << "\n";
  } else {
    out << "BROKEN: " << broken->chain() << " at " << broken->first_bad() << ": "
        << broken->problem() << "\n";
  }
  if (v.chains_size() > 0) {
    out << "checkpoint "
        << (v.checkpoint_id() == 0 ? "none yet" : "#" + std::to_string(v.checkpoint_id()))
        << (v.checkpoints_signed() ? ", signatures verify" : ", SIGNATURES DO NOT VERIFY")
        << " (key " << v.checkpoint_key_id().substr(0, 16) << ")\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : v.chains()) {
    rows.push_back({c.chain(), c.intact() ? "intact" : "BROKEN",
                    // A run's records are walked from the checkpoint before the run only.
                    c.first_position() == 0 ? std::to_string(c.entries_checked())
                                            : std::to_string(c.entries_checked()) + " (positions " +
                                                  std::to_string(c.first_position() + 1) + ".." +
                                                  std::to_string(c.length()) + ")",
                    c.checkpoint_id() == 0 ? "-" : "#" + std::to_string(c.checkpoint_id()),
                    c.intact() ? (c.head().empty() ? "-" : c.head().substr(0, 16))
                               : c.first_bad() + ": " + c.problem()});
  }
  if (!rows.empty())
    out << Table({"CHAIN", "STATE", "CHECKED", "CHECKPOINT", "HEAD / PROBLEM"}, rows, "  ");
  return out.str();
}

std::string FormatRunHistory(const cit::v1::RunHistory& history) {
  std::ostringstream out;
  out << "History (plan log, " << history.events_size() << " entries)\n";
  const cit::v1::RunPlan* previous = nullptr;
  for (const auto& e : history.events()) {
    std::string action = cit::v1::PlanAction_Name(e.action());
    if (action.rfind("PLAN_ACTION_", 0) == 0) action = action.substr(12);
    out << "  #" << e.index() << " " << FormatTime(e.time()) << " " << action << " v"
        << e.run().version() << " by " << e.actor();
    if (!e.comment().empty()) out << " " << Quoted(e.comment());
    out << "\n";
    if (previous != nullptr && e.action() == cit::v1::PLAN_ACTION_UPDATE) {
      google::protobuf::util::MessageDifferencer differ;
      std::string diff;
      differ.ReportDifferencesToString(&diff);
      differ.Compare(*previous, e.run().plan());
      std::istringstream lines(diff);
      std::string line;
      for (int n = 0; n < 5 && std::getline(lines, line); ++n) out << "      " << line << "\n";
    }
    previous = &e.run().plan();
  }
  return out.str();
}

}  // namespace cit::ctl
