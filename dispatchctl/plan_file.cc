#include "dispatchctl/plan_file.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dispatchctl/plan_keys.h"
#include "geo/input_limits.h"
#include "geo/route_import.h"

namespace cit::ctl {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

// Plan and route files alike: regular files only (not /dev/zero or a FIFO), 64 MiB at most.
absl::StatusOr<std::string> ReadText(const std::filesystem::path& path) {
  return geo::ReadFileBounded(path);
}

json TomlToJson(const toml::node& node) {
  if (const auto* t = node.as_table()) {
    json out = json::object();
    for (const auto& [k, v] : *t) out[std::string(k.str())] = TomlToJson(v);
    return out;
  }
  if (const auto* a = node.as_array()) {
    json out = json::array();
    for (const auto& v : *a) out.push_back(TomlToJson(v));
    return out;
  }
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto i = node.value_exact<std::int64_t>()) return *i;
  if (auto d = node.value_exact<double>()) return *d;
  if (auto b = node.value_exact<bool>()) return *b;
  if (const auto* dt = node.as_date_time()) {
    std::ostringstream s;
    s << *dt;
    return s.str();
  }
  return nullptr;
}

// Longest relative time a plan may use ("+876000h"): 100 years, far inside the range protobuf's
// Duration and Timestamp can hold (TimeUtil CHECK-fails, i.e. aborts, beyond it).
constexpr std::int64_t kMaxOffsetSeconds = std::int64_t{100} * 366 * 24 * 3600;

// "+15m" / "-90s" / "+1h" / "+2h30m" -> seconds; nullopt past kMaxOffsetSeconds.
std::optional<std::int64_t> ParseOffset(std::string_view s) {
  if (s.empty() || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  const int sign = s[0] == '-' ? -1 : 1;
  s.remove_prefix(1);
  std::int64_t total = 0;
  bool any = false;
  while (!s.empty()) {
    std::int64_t n = 0;
    std::size_t i = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      n = n * 10 + (s[i++] - '0');
      // Bounded so the arithmetic below cannot overflow (found by tests/fuzz/plan_fuzz.cc).
      if (n > kMaxOffsetSeconds) return std::nullopt;
    }
    if (i == 0) return std::nullopt;
    std::int64_t unit = 1;
    if (i < s.size()) {
      switch (s[i]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        default:
          return std::nullopt;
      }
      ++i;
    }
    total += n * unit;
    if (total > kMaxOffsetSeconds) return std::nullopt;
    any = true;
    s.remove_prefix(i);
  }
  if (!any) return std::nullopt;
  return sign * total;
}

class TimeResolver {
 public:
  explicit TimeResolver(std::chrono::system_clock::time_point now) {
    now_ = TimeUtil::NanosecondsToTimestamp(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
  }
  void SetBase(const Timestamp& base) { base_ = base; }

  absl::StatusOr<std::string> Resolve(const std::string& field, const json& value) const {
    if (!value.is_string()) return absl::InvalidArgumentError(field + ": not a time string");
    std::string s = value.get<std::string>();
    Timestamp t;
    if (s == "now") {
      t = now_;
    } else if (s.rfind("now", 0) == 0) {
      auto off = ParseOffset(s.substr(3));
      if (!off) return absl::InvalidArgumentError(field + ": not a time: '" + s + "'");
      t = now_;
      t.set_seconds(now_.seconds() + *off);
    } else if (auto off = ParseOffset(s)) {
      t = base_ ? *base_ : now_;
      t.set_seconds(t.seconds() + *off);
    } else if (!TimeUtil::FromString(s, &t)) {
      return absl::InvalidArgumentError(field + ": not an RFC 3339 time: '" + s + "'");
    }
    // Checked before formatting: TimeUtil CHECK-fails (aborts) on a Timestamp out of range.
    if (t.seconds() < TimeUtil::kTimestampMinSeconds ||
        t.seconds() > TimeUtil::kTimestampMaxSeconds) {
      return absl::InvalidArgumentError(field + ": time outside years 1..9999: '" + s + "'");
    }
    return TimeUtil::ToString(t);
  }

 private:
  Timestamp now_;
  std::optional<Timestamp> base_;
};

absl::Status ResolveTimeField(json& obj, const char* key, const std::string& where,
                              const TimeResolver& times) {
  if (!obj.contains(key)) return absl::OkStatus();
  absl::StatusOr<std::string> t = times.Resolve(where + key, obj[key]);
  if (!t.ok()) return t.status();
  obj[key] = *t;
  return absl::OkStatus();
}

// Reads the route from whichever source the file gives, imports it with the cit::geo importers
// (so a bad route fails here, naming the element) and leaves only `points` (+ half-width).
absl::Status NormaliseRoute(json& route, const std::filesystem::path& dir) {
  if (!route.is_object()) return absl::InvalidArgumentError("route: must be a table/object");
  // A misspelt key must not be dropped (a typo in corridor_half_width_m would silently give
  // the default corridor).
  static constexpr std::string_view kRouteKeys[] = {
      "geojson_file",       "gpx_file",           "geojson", "gpx",
      "polyline",           "polyline_precision", "points",  "corridor_half_width_m",
      "max_stop_distance_m"};
  for (const auto& [key, value] : route.items()) {
    if (std::find(std::begin(kRouteKeys), std::end(kRouteKeys), key) == std::end(kRouteKeys)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "route.", key, ": unknown key (known: geojson_file, gpx_file, geojson, gpx, polyline, ",
          "polyline_precision, points, corridor_half_width_m, max_stop_distance_m)"));
    }
  }
  int sources = 0;
  for (const char* k : {"geojson_file", "gpx_file", "geojson", "gpx", "polyline", "points"}) {
    sources += route.contains(k) ? 1 : 0;
  }
  if (sources != 1) {
    return absl::InvalidArgumentError(
        "route: give exactly one of geojson_file, gpx_file, geojson, gpx, polyline, points");
  }
  auto text_of = [&](const char* file_key, const char* inline_key,
                     std::string* name) -> absl::StatusOr<std::string> {
    if (route.contains(file_key)) {
      if (!route[file_key].is_string()) {
        return absl::InvalidArgumentError(std::string("route.") + file_key + ": not a path");
      }
      std::filesystem::path p = route[file_key].get<std::string>();
      if (p.is_relative()) p = dir / p;
      *name = p.string();
      absl::StatusOr<std::string> text = ReadText(p);
      if (!text.ok()) {
        return absl::InvalidArgumentError(std::string("route.") + file_key + ": " +
                                          std::string(text.status().message()));
      }
      return text;
    }
    *name = std::string("route.") + inline_key;
    if (!route[inline_key].is_string()) {
      return absl::InvalidArgumentError(*name + ": must be a string");
    }
    return route[inline_key].get<std::string>();
  };

  absl::StatusOr<std::vector<geo::LonLat>> points = absl::InternalError("no route");
  std::string name;
  if (route.contains("geojson_file") || route.contains("geojson")) {
    absl::StatusOr<std::string> text = text_of("geojson_file", "geojson", &name);
    if (!text.ok()) return text.status();
    points = geo::ImportGeoJsonRoute(*text, name);
  } else if (route.contains("gpx_file") || route.contains("gpx")) {
    absl::StatusOr<std::string> text = text_of("gpx_file", "gpx", &name);
    if (!text.ok()) return text.status();
    points = geo::ImportGpxRoute(*text, name);
  } else if (route.contains("polyline")) {
    if (!route["polyline"].is_string()) {
      return absl::InvalidArgumentError("route.polyline: must be a string");
    }
    const int precision = route.value("polyline_precision", 5);
    if (precision != 5 && precision != 6) {
      return absl::InvalidArgumentError("route.polyline_precision: must be 5 or 6");
    }
    points = geo::DecodePolyline(route["polyline"].get<std::string>(), precision);
  } else {
    const json& in = route["points"];
    if (!in.is_array() || in.size() < 2) {
      return absl::InvalidArgumentError("route.points: must be [[lon, lat], ...], at least 2");
    }
    if (in.size() > geo::kMaxRoutePoints) {
      return absl::InvalidArgumentError(
          absl::StrCat("route.points: has ", in.size(), " points; at most ", geo::kMaxRoutePoints));
    }
    std::vector<geo::LonLat> out;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const json& p = in[i];
      if (!p.is_array() || p.size() < 2 || !p[0].is_number() || !p[1].is_number()) {
        return absl::InvalidArgumentError("route.points[" + std::to_string(i) +
                                          "]: must be [lon, lat]");
      }
      absl::StatusOr<geo::LonLat> ll = geo::LonLat::Create(geo::Longitude{p[0].get<double>()},
                                                           geo::Latitude{p[1].get<double>()});
      if (!ll.ok()) {
        return absl::InvalidArgumentError("route.points[" + std::to_string(i) +
                                          "]: " + std::string(ll.status().message()));
      }
      out.push_back(*ll);
    }
    points = std::move(out);
  }
  if (!points.ok()) return points.status();
  json pts = json::array();
  for (const geo::LonLat& p : *points) {
    pts.push_back({{"lon_deg", p.lon_deg()}, {"lat_deg", p.lat_deg()}});
  }
  json out = {{"points", pts}};
  for (const char* k : {"corridor_half_width_m", "max_stop_distance_m"}) {
    if (route.contains(k)) out[k] = route[k];
  }
  route = std::move(out);
  return absl::OkStatus();
}

absl::StatusOr<cit::v1::RunPlan> ParsePlanUnguarded(std::string_view text,
                                                    const std::filesystem::path& dir,
                                                    std::chrono::system_clock::time_point now) {
  json doc;
  std::size_t first = text.find_first_not_of(" \t\r\n");
  // Nesting is bounded before either parser runs: toml++ recurses per dotted-key segment, and
  // TomlToJson, json::dump() and the checks below recurse per level.
  if (first != std::string_view::npos && text[first] == '{') {
    if (absl::Status s = geo::CheckJsonNesting(text, "plan"); !s.ok()) return s;
    doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return absl::InvalidArgumentError("plan: not valid JSON");
  } else {
    if (absl::Status s = geo::CheckTomlNesting(text, "plan"); !s.ok()) return s;
    try {
      doc = TomlToJson(toml::parse(text));
    } catch (const toml::parse_error& e) {
      std::ostringstream msg;
      msg << "plan: TOML error at line " << e.source().begin.line << ": " << e.description();
      return absl::InvalidArgumentError(msg.str());
    }
  }
  if (!doc.is_object()) return absl::InvalidArgumentError("plan: must be an object/table");

  TimeResolver times(now);
  if (auto s = ResolveTimeField(doc, "planned_start", "", times); !s.ok()) return s;
  if (doc.contains("planned_start")) {
    Timestamp base;
    TimeUtil::FromString(doc["planned_start"].get<std::string>(), &base);
    times.SetBase(base);
  }
  if (auto s = ResolveTimeField(doc, "planned_end", "", times); !s.ok()) return s;
  if (!doc.contains("route")) return absl::InvalidArgumentError("route: required");
  if (auto s = NormaliseRoute(doc["route"], dir); !s.ok()) return s;
  if (doc.contains("stops")) {
    if (!doc["stops"].is_array()) return absl::InvalidArgumentError("stops: must be a list");
    for (std::size_t i = 0; i < doc["stops"].size(); ++i) {
      json& stop = doc["stops"][i];
      const std::string where = "stops[" + std::to_string(i) + "].";
      if (!stop.is_object()) return absl::InvalidArgumentError(where + ": must be a table");
      for (const char* k : {"arrival_earliest", "arrival_latest"}) {
        if (auto s = ResolveTimeField(stop, k, where, times); !s.ok()) return s;
      }
      if (stop.contains("lat") || stop.contains("lon")) {
        for (const char* k : {"lat", "lon"}) {
          if (stop.contains(k) && !stop[k].is_number()) {
            return absl::InvalidArgumentError(where + k + ": must be a number");
          }
        }
        stop["position"] = {{"lat_deg", stop.value("lat", 0.0)},
                            {"lon_deg", stop.value("lon", 0.0)}};
        stop.erase("lat");
        stop.erase("lon");
      }
    }
  }

  // Every key of the file, not only [route]'s: the proto parser below would refuse them too, but
  // without saying which stop or which table.
  if (absl::Status s = CheckPlanKeys(doc); !s.ok()) return s;
  cit::v1::RunPlan plan;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(doc.dump(), &plan, opts);
  if (!status.ok()) {
    return absl::InvalidArgumentError("plan: " + std::string(status.message()));
  }
  if (plan.run_id().empty()) return absl::InvalidArgumentError("run_id: required");
  if (plan.vehicle_id().empty()) return absl::InvalidArgumentError("vehicle_id: required");
  return plan;
}

}  // namespace

absl::StatusOr<cit::v1::RunPlan> ParsePlan(std::string_view text, const std::filesystem::path& dir,
                                           std::chrono::system_clock::time_point now) {
  // The checks above name the field for the mistakes people make; a value of an unexpected type
  // that slips past them makes nlohmann::json throw, and that must be an error, not a
  // terminate() (found by tests/fuzz/plan_fuzz.cc: `polyline_precision = "5"`, `lat = true`).
  try {
    return ParsePlanUnguarded(text, dir, now);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(std::string("plan: ") + e.what());
  }
}

std::vector<std::string> PlanWarnings(const cit::v1::RunPlan& plan) {
  std::vector<std::string> out;
  for (int i = 0; i < plan.stops_size(); ++i) {
    const cit::v1::Stop& s = plan.stops(i);
    if (s.has_arrival_latest()) continue;
    out.push_back(absl::StrCat("stops[", i, "] ", s.stop_id(), s.name().empty() ? "" : " \"",
                               s.name(), s.name().empty() ? "" : "\"",
                               ": no arrival window (arrival_latest): it can never be late or "
                               "missed (LATE_ARRIVAL, MISSED_STOP)"));
  }
  return out;
}

absl::StatusOr<cit::v1::RunPlan> LoadPlanFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadText(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<cit::v1::RunPlan> plan =
      ParsePlan(*text, path.parent_path(), std::chrono::system_clock::now());
  if (!plan.ok()) {
    return absl::Status(plan.status().code(),
                        path.string() + ": " + std::string(plan.status().message()));
  }
  return plan;
}

}  // namespace cit::ctl
