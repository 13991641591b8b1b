#include "dispatch-server/audit/track_export.h"

#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "absl/status/status.h"

namespace cit::dispatch {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr double kSegmentGapS = 60.0;

bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }
std::string Rfc3339(const Timestamp& t) { return TimeUtil::ToString(t); }

bool UsableFix(const cit::v1::Record& r) {
  return r.has_fix() && r.fix().mode() >= cit::v1::FIX_MODE_2D &&
         std::isfinite(r.fix().lat_deg()) && std::isfinite(r.fix().lon_deg());
}

std::string Deg(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7f", v);
  return buf;
}

std::string Num(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string AlertKindName(cit::v1::AlertKind k) {
  std::string name = cit::v1::AlertKind_Name(k);
  constexpr std::string_view kPrefix = "ALERT_KIND_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

std::string SeverityName(cit::v1::Severity s) {
  std::string name = cit::v1::Severity_Name(s);
  return name.rfind("SEVERITY_", 0) == 0 ? name.substr(9) : name;
}

std::string AlertStateName(cit::v1::AlertState s) {
  std::string name = cit::v1::AlertState_Name(s);
  return name.rfind("ALERT_STATE_", 0) == 0 ? name.substr(12) : name;
}

json PointGeometry(double lon, double lat) {
  return {{"type", "Point"}, {"coordinates", {lon, lat}}};
}

}  // namespace

std::string RecordKind(const cit::v1::Record& r) {
  switch (r.payload_case()) {
    case cit::v1::Record::kFix:
      return "fix";
    case cit::v1::Record::kDoor:
      return "door";
    case cit::v1::Record::kSeal:
      return "seal";
    case cit::v1::Record::kPanic:
      return "panic";
    case cit::v1::Record::kCrew:
      return "crew";
    case cit::v1::Record::kGnss:
      return "gnss";
    case cit::v1::Record::kHeartbeat:
      return "heartbeat";
    case cit::v1::Record::PAYLOAD_NOT_SET:
      break;
  }
  return "unknown";
}

std::string RecordDetail(const cit::v1::Record& r) {
  switch (r.payload_case()) {
    case cit::v1::Record::kDoor:
      return "door " + std::to_string(r.door().door()) +
             (r.door().state() == cit::v1::DOOR_STATE_OPEN ? " open" : " closed");
    case cit::v1::Record::kSeal:
      return "seal " + std::to_string(r.seal().seal()) +
             (r.seal().state() == cit::v1::SEAL_STATE_BROKEN ? " broken" : " intact");
    case cit::v1::Record::kPanic:
      return "panic " + r.panic().source();
    case cit::v1::Record::kCrew:
      return "crew " + r.crew().badge_id() +
             (r.crew().action() == cit::v1::CREW_ACTION_CHECK_IN ? " check-in" : " check-out");
    case cit::v1::Record::kGnss: {
      std::string s = cit::v1::GnssState_Name(r.gnss().state());
      if (s.rfind("GNSS_STATE_", 0) == 0) s = s.substr(11);
      return "gnss " + s + (r.gnss().detail().empty() ? "" : " " + r.gnss().detail());
    }
    case cit::v1::Record::kHeartbeat:
      return "heartbeat backlog " + std::to_string(r.heartbeat().journal_backlog_records());
    case cit::v1::Record::kFix:
    case cit::v1::Record::PAYLOAD_NOT_SET:
      break;
  }
  return "";
}

std::string TrackGeoJson(const cit::v1::Run& run, const std::vector<cit::v1::StoredRecord>& records,
                         const std::vector<cit::v1::Alert>& alerts) {
  const cit::v1::RunPlan& plan = run.plan();
  json features = json::array();

  json coords = json::array();
  json times = json::array();
  json seqs = json::array();
  std::optional<std::pair<double, double>> last_pos;
  json events = json::array();
  for (const auto& stored : records) {
    const cit::v1::Record& r = stored.record();
    if (UsableFix(r)) {
      coords.push_back({r.fix().lon_deg(), r.fix().lat_deg()});
      times.push_back(Rfc3339(r.event_time()));
      seqs.push_back(r.seq());
      last_pos = {r.fix().lon_deg(), r.fix().lat_deg()};
    } else if (r.has_door() || r.has_seal() || r.has_panic() || r.has_crew()) {
      json f = {{"type", "Feature"},
                {"geometry", last_pos ? PointGeometry(last_pos->first, last_pos->second) : json()},
                {"properties",
                 {{"kind", RecordKind(r)},
                  {"detail", RecordDetail(r)},
                  {"seq", r.seq()},
                  {"time", Rfc3339(r.event_time())}}}};
      events.push_back(std::move(f));
    }
  }
  json track_geometry;
  if (coords.size() >= 2) {
    track_geometry = {{"type", "LineString"}, {"coordinates", coords}};
  } else if (coords.size() == 1) {
    track_geometry = {{"type", "Point"}, {"coordinates", coords[0]}};
  }
  features.push_back({{"type", "Feature"},
                      {"geometry", track_geometry},
                      {"properties",
                       {{"kind", "track"},
                        {"run_id", plan.run_id()},
                        {"vehicle_id", plan.vehicle_id()},
                        {"fixes", coords.size()},
                        {"times", times},
                        {"seqs", seqs}}}});

  if (plan.route().points_size() >= 2) {
    json route = json::array();
    for (const auto& p : plan.route().points()) route.push_back({p.lon_deg(), p.lat_deg()});
    features.push_back({{"type", "Feature"},
                        {"geometry", {{"type", "LineString"}, {"coordinates", route}}},
                        {"properties",
                         {{"kind", "planned_route"},
                          {"corridor_half_width_m", plan.route().corridor_half_width_m()}}}});
  }
  for (const auto& stop : plan.stops()) {
    json props = {{"kind", "stop"},
                  {"stop_id", stop.stop_id()},
                  {"name", stop.name()},
                  {"radius_m", stop.radius_m()},
                  {"doors_may_open", stop.doors_may_open()}};
    if (IsSet(stop.arrival_earliest()))
      props["arrival_earliest"] = Rfc3339(stop.arrival_earliest());
    if (IsSet(stop.arrival_latest())) props["arrival_latest"] = Rfc3339(stop.arrival_latest());
    features.push_back(
        {{"type", "Feature"},
         {"geometry", PointGeometry(stop.position().lon_deg(), stop.position().lat_deg())},
         {"properties", props}});
  }
  for (auto& e : events) features.push_back(std::move(e));
  for (const auto& a : alerts) {
    json actions = json::array();
    for (const auto& act : a.actions()) {
      actions.push_back({{"state", AlertStateName(act.state())},
                         {"actor", act.actor()},
                         {"comment", act.comment()},
                         {"time", Rfc3339(act.time())}});
    }
    features.push_back({{"type", "Feature"},
                        {"geometry", a.has_position() ? PointGeometry(a.position().lon_deg(),
                                                                      a.position().lat_deg())
                                                      : json()},
                        {"properties",
                         {{"kind", "alert"},
                          {"alert_id", a.alert_id()},
                          {"alert_kind", AlertKindName(a.kind())},
                          {"severity", SeverityName(a.severity())},
                          {"state", AlertStateName(a.state())},
                          {"subject", a.subject()},
                          {"details", a.details()},
                          {"event_time", Rfc3339(a.event_time())},
                          {"actions", actions}}}});
  }
  json doc = {{"type", "FeatureCollection"}, {"features", features}};
  return doc.dump(1) + "\n";
}

std::string TrackGpx(const cit::v1::Run& run, const std::vector<cit::v1::StoredRecord>& records) {
  const cit::v1::RunPlan& plan = run.plan();
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<gpx version=\"1.1\" creator=\"citwatch dispatch-server\""
    << " xmlns=\"http://www.topografix.com/GPX/1/1\""
    << " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
    << " xsi:schemaLocation=\"http://www.topografix.com/GPX/1/1"
    << " http://www.topografix.com/GPX/1/1/gpx.xsd\">\n";
  const cit::v1::StoredRecord* first_fix = nullptr;
  for (const auto& s : records) {
    if (UsableFix(s.record())) {
      first_fix = &s;
      break;
    }
  }
  x << " <metadata>\n  <name>run " << XmlEscape(plan.run_id()) << "</name>\n"
    << "  <desc>vehicle " << XmlEscape(plan.vehicle_id()) << "</desc>\n";
  if (first_fix != nullptr)
    x << "  <time>" << Rfc3339(first_fix->record().event_time()) << "</time>\n";
  x << " </metadata>\n";

  for (const auto& stop : plan.stops()) {
    x << " <wpt lat=\"" << Deg(stop.position().lat_deg()) << "\" lon=\""
      << Deg(stop.position().lon_deg()) << "\">\n  <name>" << XmlEscape(stop.stop_id())
      << "</name>\n  <desc>" << XmlEscape(stop.name()) << "</desc>\n  <type>stop</type>\n </wpt>\n";
  }
  std::optional<std::pair<double, double>> last;  // lat, lon
  for (const auto& s : records) {
    const cit::v1::Record& r = s.record();
    if (UsableFix(r)) {
      last = {r.fix().lat_deg(), r.fix().lon_deg()};
    } else if (last && (r.has_door() || r.has_seal() || r.has_panic() || r.has_crew())) {
      x << " <wpt lat=\"" << Deg(last->first) << "\" lon=\"" << Deg(last->second) << "\">\n"
        << "  <time>" << Rfc3339(r.event_time()) << "</time>\n  <name>"
        << XmlEscape(RecordDetail(r)) << "</name>\n  <desc>seq " << r.seq() << "</desc>\n  <type>"
        << RecordKind(r) << "</type>\n </wpt>\n";
    }
  }
  if (plan.route().points_size() > 0) {
    x << " <rte>\n  <name>planned route " << XmlEscape(plan.run_id()) << "</name>\n";
    for (const auto& p : plan.route().points()) {
      x << "  <rtept lat=\"" << Deg(p.lat_deg()) << "\" lon=\"" << Deg(p.lon_deg()) << "\"/>\n";
    }
    x << " </rte>\n";
  }
  x << " <trk>\n  <name>run " << XmlEscape(plan.run_id()) << "</name>\n";
  bool open_seg = false;
  const Timestamp* prev = nullptr;
  for (const auto& s : records) {
    const cit::v1::Record& r = s.record();
    if (!UsableFix(r)) continue;
    const bool gap = prev != nullptr &&
                     TimeUtil::DurationToMilliseconds(r.event_time() - *prev) > kSegmentGapS * 1000;
    if (open_seg && gap) {
      x << "  </trkseg>\n";
      open_seg = false;
    }
    if (!open_seg) {
      x << "  <trkseg>\n";
      open_seg = true;
    }
    const cit::v1::Fix& f = r.fix();
    x << "   <trkpt lat=\"" << Deg(f.lat_deg()) << "\" lon=\"" << Deg(f.lon_deg()) << "\">";
    // GPX 1.1 fixes the child order: ele, time, ..., fix, sat, hdop.
    if (f.has_alt_m() && std::isfinite(f.alt_m())) x << "<ele>" << Num(f.alt_m(), 2) << "</ele>";
    x << "<time>" << Rfc3339(r.event_time()) << "</time>";
    x << "<fix>" << (f.mode() == cit::v1::FIX_MODE_3D ? "3d" : "2d") << "</fix>";
    if (f.has_satellites_used()) x << "<sat>" << f.satellites_used() << "</sat>";
    if (f.has_hdop() && std::isfinite(f.hdop()) && f.hdop() >= 0) {
      x << "<hdop>" << Num(f.hdop(), 2) << "</hdop>";
    }
    x << "</trkpt>\n";
    prev = &r.event_time();
  }
  if (open_seg) x << "  </trkseg>\n";
  x << " </trk>\n</gpx>\n";
  return x.str();
}

std::string TrackCsv(const std::vector<cit::v1::StoredRecord>& records) {
  std::ostringstream c;
  c << "seq,event_time,kind,lat_deg,lon_deg,alt_m,speed_mps,track_deg,mode,satellites,hdop,eph_m,"
       "detail,server_received_time,chain_hash\r\n";
  auto opt = [](bool has, double v, int decimals) {
    return has && std::isfinite(v) ? Num(v, decimals) : std::string();
  };
  for (const auto& s : records) {
    const cit::v1::Record& r = s.record();
    c << r.seq() << ',' << Rfc3339(r.event_time()) << ',' << RecordKind(r) << ',';
    if (r.has_fix()) {
      const cit::v1::Fix& f = r.fix();
      std::string mode = cit::v1::FixMode_Name(f.mode());
      if (mode.rfind("FIX_MODE_", 0) == 0) mode = mode.substr(9);
      c << Deg(f.lat_deg()) << ',' << Deg(f.lon_deg()) << ',' << opt(f.has_alt_m(), f.alt_m(), 2)
        << ',' << opt(f.has_speed_mps(), f.speed_mps(), 2) << ','
        << opt(f.has_track_deg(), f.track_deg(), 1) << ',' << mode << ','
        << (f.has_satellites_used() ? std::to_string(f.satellites_used()) : "") << ','
        << opt(f.has_hdop(), f.hdop(), 2) << ',' << opt(f.has_eph_m(), f.eph_m(), 1) << ',';
    } else {
      c << ",,,,,,,,,";
    }
    c << CsvField(RecordDetail(r)) << ','
      << (IsSet(s.server_received_time()) ? Rfc3339(s.server_received_time()) : "") << ','
      << s.chain_hash() << "\r\n";
  }
  return c.str();
}

absl::StatusOr<cit::v1::ExportRunResponse> ExportRunTrack(
    cit::v1::ExportFormat format, const cit::v1::Run& run,
    const std::vector<cit::v1::StoredRecord>& records, const std::vector<cit::v1::Alert>& alerts) {
  cit::v1::ExportRunResponse out;
  const std::string base = run.plan().run_id().empty() ? "track" : run.plan().run_id();
  switch (format) {
    case cit::v1::EXPORT_FORMAT_GEOJSON:
      out.set_content(TrackGeoJson(run, records, alerts));
      out.set_media_type("application/geo+json");
      out.set_suggested_file_name(base + ".geojson");
      return out;
    case cit::v1::EXPORT_FORMAT_GPX:
      out.set_content(TrackGpx(run, records));
      out.set_media_type("application/gpx+xml");
      out.set_suggested_file_name(base + ".gpx");
      return out;
    case cit::v1::EXPORT_FORMAT_CSV:
      out.set_content(TrackCsv(records));
      out.set_media_type("text/csv");
      out.set_suggested_file_name(base + ".csv");
      return out;
    default:
      break;
  }
  return absl::InvalidArgumentError("format: must be geojson, gpx or csv");
}

}  // namespace cit::dispatch
