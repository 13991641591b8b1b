#include "dispatch-server/audit/track_export.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "common/markup_escape.h"
#include "dispatch-server/audit/export_text.h"
#include "dispatch-server/audit/track_pages.h"

namespace cit::dispatch {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr double kSegmentGapS = 60.0;

bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }
std::string Rfc3339(const Timestamp& t) {
  std::string out;
  AppendRfc3339(t, out);
  return out;
}

bool UsableFix(const cit::v1::Record& r) {
  return r.has_fix() && r.fix().mode() >= cit::v1::FIX_MODE_2D &&
         std::isfinite(r.fix().lat_deg()) && std::isfinite(r.fix().lon_deg());
}

std::string Num(double v, int decimals) {
  std::string out;
  AppendFixed(out, v, decimals);
  return out;
}

std::string Deg(double v) { return Num(v, 7); }

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

namespace {

std::string JsonText(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Shortest text that reads back as the same double (finite values only).
std::string JsonNum(double v) { return fmt::format("{}", v); }

json StopFeature(const cit::v1::Stop& stop) {
  json props = {{"kind", "stop"},
                {"stop_id", stop.stop_id()},
                {"name", stop.name()},
                {"radius_m", stop.radius_m()},
                {"doors_may_open", stop.doors_may_open()}};
  if (IsSet(stop.arrival_earliest())) props["arrival_earliest"] = Rfc3339(stop.arrival_earliest());
  if (IsSet(stop.arrival_latest())) props["arrival_latest"] = Rfc3339(stop.arrival_latest());
  return {{"type", "Feature"},
          {"geometry", PointGeometry(stop.position().lon_deg(), stop.position().lat_deg())},
          {"properties", props}};
}

json AlertFeature(const cit::v1::Alert& a) {
  json actions = json::array();
  for (const auto& act : a.actions()) {
    actions.push_back({{"state", AlertStateName(act.state())},
                       {"actor", act.actor()},
                       {"comment", act.comment()},
                       {"time", Rfc3339(act.time())}});
  }
  return {
      {"type", "Feature"},
      {"geometry",
       a.has_position() ? PointGeometry(a.position().lon_deg(), a.position().lat_deg()) : json()},
      {"properties",
       {{"kind", "alert"},
        {"alert_id", a.alert_id()},
        {"alert_kind", AlertKindName(a.kind())},
        {"severity", SeverityName(a.severity())},
        {"state", AlertStateName(a.state())},
        {"subject", a.subject()},
        {"details", a.details()},
        {"event_time", Rfc3339(a.event_time())},
        {"actions", actions}}}};
}

bool IsEvent(const cit::v1::Record& r) {
  return r.has_door() || r.has_seal() || r.has_panic() || r.has_crew();
}

}  // namespace

// Each format is a list of steps: text written once, or a pass over every record. Text steps
// run when reached, so they may use what earlier passes counted.
struct ExportStream::Step {
  std::function<void(std::string&)> text;
  // Returns false to end the pass early.
  std::function<bool(const cit::v1::StoredRecord&, std::string&)> each;
};

// What the passes of one document remember between records.
struct ExportStream::State {
  std::size_t fixes_seen = 0;
  std::optional<std::pair<double, double>> last_pos;  // lon, lat
  std::optional<Timestamp> prev_fix_time;
  bool open_seg = false;
  bool first = true;  // no element written yet in the array being written
};

ExportStream::ExportStream(std::unique_ptr<RecordPages> pages)
    : pages_(std::move(pages)), state_(std::make_unique<State>()) {}
ExportStream::~ExportStream() = default;

absl::StatusOr<std::unique_ptr<ExportStream>> ExportStream::Create(
    cit::v1::ExportFormat format, cit::v1::Run run, std::vector<cit::v1::Alert> alerts,
    std::unique_ptr<RecordPages> pages) {
  std::unique_ptr<ExportStream> s(new ExportStream(std::move(pages)));
  s->run_ = std::move(run);
  s->alerts_ = std::move(alerts);
  const std::string base = s->run_.plan().run_id().empty() ? "track" : s->run_.plan().run_id();
  switch (format) {
    case cit::v1::EXPORT_FORMAT_GEOJSON:
      s->media_type_ = "application/geo+json";
      s->file_name_ = base + ".geojson";
      s->AddGeoJsonSteps();
      return s;
    case cit::v1::EXPORT_FORMAT_GPX:
      s->media_type_ = "application/gpx+xml";
      s->file_name_ = base + ".gpx";
      s->AddGpxSteps();
      return s;
    case cit::v1::EXPORT_FORMAT_CSV:
      s->media_type_ = "text/csv";
      s->file_name_ = base + ".csv";
      s->AddCsvSteps();
      return s;
    default:
      break;
  }
  return absl::InvalidArgumentError("format: must be geojson, gpx or csv");
}

void ExportStream::Text(std::function<void(std::string&)> f) {
  steps_.push_back(Step{std::move(f), nullptr});
}
void ExportStream::Pass(std::function<bool(const cit::v1::StoredRecord&, std::string&)> f) {
  steps_.push_back(Step{nullptr, std::move(f)});
}

absl::StatusOr<bool> ExportStream::Next(std::string& out, std::size_t target_bytes) {
  while (step_ < steps_.size() && out.size() < target_bytes) {
    Step& step = steps_[step_];
    if (step.text) {
      step.text(out);
      ++step_;
      continue;
    }
    if (!in_pass_) {
      pages_->Rewind();
      in_pass_ = true;
    }
    if (absl::Status s = pages_->NextInto(page_); !s.ok()) return s;
    bool more = !page_.empty();
    for (const auto& r : page_) {
      if (!step.each(r, out)) {
        more = false;
        break;
      }
    }
    if (!more) {
      in_pass_ = false;
      ++step_;
    }
  }
  return step_ < steps_.size();
}

void ExportStream::AddCsvSteps() {
  Text([](std::string& out) {
    out +=
        "seq,event_time,kind,lat_deg,lon_deg,alt_m,speed_mps,track_deg,mode,satellites,hdop,"
        "eph_m,detail,server_received_time,chain_hash\r\n";
  });
  Pass([](const cit::v1::StoredRecord& s, std::string& c) {
    // Appended in place: one line per record of a run of any length.
    auto opt = [&c](bool has, double v, int decimals) {
      if (has && std::isfinite(v)) AppendFixed(c, v, decimals);
      c += ',';
    };
    const cit::v1::Record& r = s.record();
    AppendUint(c, r.seq());
    c += ',';
    AppendRfc3339(r.event_time(), c);
    c += ',';
    c += RecordKind(r);
    c += ',';
    if (r.has_fix()) {
      const cit::v1::Fix& f = r.fix();
      const std::string& mode = cit::v1::FixMode_Name(f.mode());
      AppendFixed(c, f.lat_deg(), 7);
      c += ',';
      AppendFixed(c, f.lon_deg(), 7);
      c += ',';
      opt(f.has_alt_m(), f.alt_m(), 2);
      opt(f.has_speed_mps(), f.speed_mps(), 2);
      opt(f.has_track_deg(), f.track_deg(), 1);
      c += mode.rfind("FIX_MODE_", 0) == 0 ? std::string_view(mode).substr(9)
                                           : std::string_view(mode);
      c += ',';
      if (f.has_satellites_used()) AppendUint(c, f.satellites_used());
      c += ',';
      opt(f.has_hdop(), f.hdop(), 2);
      opt(f.has_eph_m(), f.eph_m(), 1);
    } else {
      c += ",,,,,,,,,";
    }
    c += CsvField(RecordDetail(r));
    c += ',';
    if (IsSet(s.server_received_time())) AppendRfc3339(s.server_received_time(), c);
    c += ',';
    c += s.chain_hash();
    c += "\r\n";
    return true;
  });
}

void ExportStream::AddGpxSteps() {
  State& st = *state_;
  const cit::v1::RunPlan& plan = run_.plan();
  Text([&plan](std::string& x) {
    x += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<gpx version=\"1.1\" creator=\"citwatch dispatch-server\""
         " xmlns=\"http://www.topografix.com/GPX/1/1\""
         " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
         " xsi:schemaLocation=\"http://www.topografix.com/GPX/1/1"
         " http://www.topografix.com/GPX/1/1/gpx.xsd\">\n";
    x += " <metadata>\n  <name>run " + EscapeMarkup(plan.run_id()) + "</name>\n  <desc>vehicle " +
         EscapeMarkup(plan.vehicle_id()) + "</desc>\n";
  });
  // The time of the first fix: a pass that stops at it.
  Pass([](const cit::v1::StoredRecord& s, std::string& x) {
    if (!UsableFix(s.record())) return true;
    x += "  <time>" + Rfc3339(s.record().event_time()) + "</time>\n";
    return false;
  });
  Text([&plan](std::string& x) {
    x += " </metadata>\n";
    for (const auto& stop : plan.stops()) {
      x += " <wpt lat=\"" + Deg(stop.position().lat_deg()) + "\" lon=\"" +
           Deg(stop.position().lon_deg()) + "\">\n  <name>" + EscapeMarkup(stop.stop_id()) +
           "</name>\n  <desc>" + EscapeMarkup(stop.name()) +
           "</desc>\n  <type>stop</type>\n </wpt>\n";
    }
  });
  // Events as waypoints at the last fix before them.
  Pass([&st](const cit::v1::StoredRecord& s, std::string& x) {
    const cit::v1::Record& r = s.record();
    if (UsableFix(r)) {
      st.last_pos = {r.fix().lon_deg(), r.fix().lat_deg()};
    } else if (st.last_pos && IsEvent(r)) {
      x += " <wpt lat=\"" + Deg(st.last_pos->second) + "\" lon=\"" + Deg(st.last_pos->first) +
           "\">\n  <time>" + Rfc3339(r.event_time()) + "</time>\n  <name>" +
           EscapeMarkup(RecordDetail(r)) + "</name>\n  <desc>seq " + std::to_string(r.seq()) +
           "</desc>\n  <type>" + RecordKind(r) + "</type>\n </wpt>\n";
    }
    return true;
  });
  Text([&plan](std::string& x) {
    if (plan.route().points_size() > 0) {
      x += " <rte>\n  <name>planned route " + EscapeMarkup(plan.run_id()) + "</name>\n";
      for (const auto& p : plan.route().points()) {
        x += "  <rtept lat=\"" + Deg(p.lat_deg()) + "\" lon=\"" + Deg(p.lon_deg()) + "\"/>\n";
      }
      x += " </rte>\n";
    }
    x += " <trk>\n  <name>run " + EscapeMarkup(plan.run_id()) + "</name>\n";
  });
  Pass([&st](const cit::v1::StoredRecord& s, std::string& x) {
    const cit::v1::Record& r = s.record();
    if (!UsableFix(r)) return true;
    const bool gap =
        st.prev_fix_time &&
        TimeUtil::DurationToMilliseconds(r.event_time() - *st.prev_fix_time) > kSegmentGapS * 1000;
    if (st.open_seg && gap) {
      x += "  </trkseg>\n";
      st.open_seg = false;
    }
    if (!st.open_seg) {
      x += "  <trkseg>\n";
      st.open_seg = true;
    }
    const cit::v1::Fix& f = r.fix();
    x += "   <trkpt lat=\"" + Deg(f.lat_deg()) + "\" lon=\"" + Deg(f.lon_deg()) + "\">";
    // GPX 1.1 fixes the child order: ele, time, ..., fix, sat, hdop.
    if (f.has_alt_m() && std::isfinite(f.alt_m())) x += "<ele>" + Num(f.alt_m(), 2) + "</ele>";
    x += "<time>" + Rfc3339(r.event_time()) + "</time>";
    x += std::string("<fix>") + (f.mode() == cit::v1::FIX_MODE_3D ? "3d" : "2d") + "</fix>";
    if (f.has_satellites_used()) x += "<sat>" + std::to_string(f.satellites_used()) + "</sat>";
    if (f.has_hdop() && std::isfinite(f.hdop()) && f.hdop() >= 0) {
      x += "<hdop>" + Num(f.hdop(), 2) + "</hdop>";
    }
    x += "</trkpt>\n";
    st.prev_fix_time = r.event_time();
    return true;
  });
  Text([&st](std::string& x) {
    if (st.open_seg) x += "  </trkseg>\n";
    x += " </trk>\n</gpx>\n";
  });
}

void ExportStream::AddGeoJsonSteps() {
  State& st = *state_;
  const cit::v1::RunPlan& plan = run_.plan();
  // The track's geometry type depends on its fix count (none: null, one: Point, else
  // LineString): a pass that stops at the second fix tells.
  Pass([&st](const cit::v1::StoredRecord& s, std::string&) {
    if (UsableFix(s.record())) ++st.fixes_seen;
    return st.fixes_seen < 2;
  });
  Text([&st](std::string& out) {
    out += "{\"type\":\"FeatureCollection\",\"features\":[\n{\"type\":\"Feature\",\"geometry\":";
    if (st.fixes_seen == 0) {
      out += "null";
    } else if (st.fixes_seen == 1) {
      out += "{\"type\":\"Point\",\"coordinates\":";
    } else {
      out += "{\"type\":\"LineString\",\"coordinates\":[\n";
    }
    st.first = true;
  });
  Pass([&st](const cit::v1::StoredRecord& s, std::string& out) {
    const cit::v1::Record& r = s.record();
    if (!UsableFix(r)) return true;
    if (!st.first) out += ",\n";
    st.first = false;
    out += "[" + JsonNum(r.fix().lon_deg()) + "," + JsonNum(r.fix().lat_deg()) + "]";
    return true;
  });
  Text([&st, &plan](std::string& out) {
    if (st.fixes_seen == 1) out += "}";
    if (st.fixes_seen >= 2) out += "\n]}";
    out += ",\"properties\":{\"kind\":\"track\",\"run_id\":" + JsonText(plan.run_id()) +
           ",\"vehicle_id\":" + JsonText(plan.vehicle_id()) + ",\"times\":[\n";
    st.first = true;
    st.fixes_seen = 0;  // counted again by the next pass, in full
  });
  Pass([&st](const cit::v1::StoredRecord& s, std::string& out) {
    const cit::v1::Record& r = s.record();
    if (!UsableFix(r)) return true;
    ++st.fixes_seen;
    if (!st.first) out += ",\n";
    st.first = false;
    out += "\"" + Rfc3339(r.event_time()) + "\"";
    return true;
  });
  Text([&st](std::string& out) {
    out += "\n],\"fixes\":" + std::to_string(st.fixes_seen) + ",\"seqs\":[\n";
    st.first = true;
  });
  Pass([&st](const cit::v1::StoredRecord& s, std::string& out) {
    const cit::v1::Record& r = s.record();
    if (!UsableFix(r)) return true;
    if (!st.first) out += ",\n";
    st.first = false;
    out += std::to_string(r.seq());
    return true;
  });
  Text([&plan](std::string& out) {
    out += "\n]}}";
    if (plan.route().points_size() >= 2) {
      json route = json::array();
      for (const auto& p : plan.route().points()) route.push_back({p.lon_deg(), p.lat_deg()});
      json f = {{"type", "Feature"},
                {"geometry", {{"type", "LineString"}, {"coordinates", route}}},
                {"properties",
                 {{"kind", "planned_route"},
                  {"corridor_half_width_m", plan.route().corridor_half_width_m()}}}};
      out += ",\n" + JsonText(f);
    }
    for (const auto& stop : plan.stops()) out += ",\n" + JsonText(StopFeature(stop));
  });
  Pass([&st](const cit::v1::StoredRecord& s, std::string& out) {
    const cit::v1::Record& r = s.record();
    if (UsableFix(r)) {
      st.last_pos = {r.fix().lon_deg(), r.fix().lat_deg()};
    } else if (IsEvent(r)) {
      json f = {{"type", "Feature"},
                {"geometry",
                 st.last_pos ? PointGeometry(st.last_pos->first, st.last_pos->second) : json()},
                {"properties",
                 {{"kind", RecordKind(r)},
                  {"detail", RecordDetail(r)},
                  {"seq", r.seq()},
                  {"time", Rfc3339(r.event_time())}}}};
      out += ",\n" + JsonText(f);
    }
    return true;
  });
  Text([this](std::string& out) {
    for (const auto& a : alerts_) out += ",\n" + JsonText(AlertFeature(a));
    out += "\n]}\n";
  });
}

namespace {

std::string Drain(cit::v1::ExportFormat format, const cit::v1::Run& run,
                  const std::vector<cit::v1::StoredRecord>& records,
                  const std::vector<cit::v1::Alert>& alerts) {
  auto s = ExportStream::Create(format, run, alerts, std::make_unique<VectorPages>(records, 1000));
  std::string out;
  while (s.ok()) {
    absl::StatusOr<bool> more = (*s)->Next(out, SIZE_MAX);
    if (!more.ok() || !*more) break;
  }
  return out;
}

}  // namespace

std::string TrackGeoJson(const cit::v1::Run& run, const std::vector<cit::v1::StoredRecord>& records,
                         const std::vector<cit::v1::Alert>& alerts) {
  return Drain(cit::v1::EXPORT_FORMAT_GEOJSON, run, records, alerts);
}

std::string TrackGpx(const cit::v1::Run& run, const std::vector<cit::v1::StoredRecord>& records) {
  return Drain(cit::v1::EXPORT_FORMAT_GPX, run, records, {});
}

std::string TrackCsv(const std::vector<cit::v1::StoredRecord>& records) {
  return Drain(cit::v1::EXPORT_FORMAT_CSV, cit::v1::Run(), records, {});
}

absl::StatusOr<cit::v1::ExportRunResponse> ExportRunTrack(
    cit::v1::ExportFormat format, const cit::v1::Run& run,
    const std::vector<cit::v1::StoredRecord>& records, const std::vector<cit::v1::Alert>& alerts) {
  auto s = ExportStream::Create(format, run, alerts, std::make_unique<VectorPages>(records, 1000));
  if (!s.ok()) return s.status();
  cit::v1::ExportRunResponse out;
  out.set_media_type((*s)->media_type());
  out.set_suggested_file_name((*s)->file_name());
  std::string* content = out.mutable_content();
  while (true) {
    absl::StatusOr<bool> more = (*s)->Next(*content, SIZE_MAX);
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  return out;
}

}  // namespace cit::dispatch
