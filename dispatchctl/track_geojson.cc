// GeoJSON tracks: Point features with a time property, LineStrings with a time array or
// [lon, lat, ele, t] positions (track_formats.h). Syntax errors name the line; content errors
// name the element ("features[3].properties.time").
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dispatchctl/track_common.h"
#include "dispatchctl/track_formats.h"
#include "geo/input_limits.h"

namespace cit::ctl {
namespace {

using nlohmann::json;

absl::Status Error(std::string_view source, std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(internal::Cat(source, ": ", where, ": ", what));
}

std::optional<int64_t> TimeOf(const json& v) {
  if (v.is_number()) {
    const double secs = v.get<double>();
    if (!(secs >= 0 && secs <= 253'402'300'799.0)) return std::nullopt;  // 1970..9999, not NaN
    return static_cast<int64_t>(std::llround(secs * 1000));
  }
  if (v.is_string()) return internal::ParseTimeMs(v.get<std::string>());
  return std::nullopt;
}

absl::StatusOr<TrackFix> Position(const json& p, std::string_view source,
                                  const std::string& where) {
  if (!p.is_array() || p.size() < 2 || !p[0].is_number() || !p[1].is_number()) {
    return Error(source, where, "must be [lon, lat, ...]");
  }
  TrackFix fix;
  fix.lon_deg = p[0].get<double>();
  fix.lat_deg = p[1].get<double>();
  if (std::string problem = internal::PositionProblem(fix.lat_deg, fix.lon_deg); !problem.empty()) {
    return Error(source, where, problem + " (GeoJSON is [lon, lat]: swapped?)");
  }
  return fix;
}

// An optional non-negative number property.
absl::Status OptionalNumber(const json& props, std::initializer_list<const char*> names, double max,
                            std::string_view source, const std::string& where,
                            std::optional<double>& out) {
  for (const char* name : names) {
    if (!props.contains(name) || props[name].is_null()) continue;
    const json& v = props[name];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() >= max) {
      return Error(source, internal::Cat(where, ".properties.", name), "must be a number >= 0");
    }
    out = v.get<double>();
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  absl::Status Feature(const json& f, const std::string& where) {
    if (!f.is_object()) return Error(source_, where, "must be an object");
    static const json kNoProps = json::object();
    const json& props =
        f.contains("properties") && f["properties"].is_object() ? f["properties"] : kNoProps;
    if (f.value("type", "") != "Feature") return Geometry(f, kNoProps, where);
    if (!f.contains("geometry") || !f["geometry"].is_object()) {
      return Error(source_, where + ".geometry", "missing");
    }
    return Geometry(f["geometry"], props, where);
  }

  absl::StatusOr<std::vector<TrackFix>> Finish() && { return std::move(fixes_).Finish(source_); }

 private:
  absl::Status Geometry(const json& g, const json& props, const std::string& where) {
    const std::string type = g.value("type", "");
    if (type == "Point") return PointFeature(g, props, where);
    if (type == "LineString") return Line(g, props, where);
    if (type == "Polygon" || type == "MultiPolygon") return absl::OkStatus();  // zones, not track
    return Error(source_, where + ".type",
                 internal::Cat("'", type, "': expected Point or LineString features"));
  }

  absl::Status PointFeature(const json& g, const json& props, const std::string& where) {
    if (!g.contains("coordinates")) return Error(source_, where, "Point without coordinates");
    absl::StatusOr<TrackFix> fix = Position(g["coordinates"], source_, where + ".coordinates");
    if (!fix.ok()) return fix.status();
    std::optional<int64_t> t;
    for (const char* k : {"time", "timestamp", "datetime"}) {
      if (props.contains(k)) {
        t = TimeOf(props[k]);
        if (!t) {
          return Error(source_, internal::Cat(where, ".properties.", k),
                       "not a time (RFC 3339 text or Unix seconds)");
        }
        break;
      }
    }
    if (!t) {
      return Error(source_, where + ".properties",
                   "no time, timestamp or datetime: a plan check needs the time of every point");
    }
    fix->time_unix_ms = *t;
    if (absl::Status s =
            OptionalNumber(props, {"speed", "speed_mps"}, 1e6, source_, where, fix->speed_mps);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = OptionalNumber(props, {"course", "track", "track_deg"}, 360, source_,
                                        where, fix->track_deg);
        !s.ok()) {
      return s;
    }
    return fixes_.Add(*fix, internal::Cat(source_, ": ", where));
  }

  absl::Status Line(const json& g, const json& props, const std::string& where) {
    if (!g.contains("coordinates") || !g["coordinates"].is_array()) {
      return Error(source_, where, "LineString without coordinates");
    }
    const json& coords = g["coordinates"];
    const json* times = nullptr;
    for (const char* k : {"times", "coordTimes"}) {
      if (props.contains(k)) times = &props[k];
    }
    if (times != nullptr && (!times->is_array() || times->size() != coords.size())) {
      return Error(
          source_, where + ".properties.times",
          internal::Cat("must be an array with one time per position (", coords.size(), ")"));
    }
    for (std::size_t i = 0; i < coords.size(); ++i) {
      const std::string at = internal::Cat(where, ".coordinates[", i, "]");
      absl::StatusOr<TrackFix> fix = Position(coords[i], source_, at);
      if (!fix.ok()) return fix.status();
      std::optional<int64_t> t;
      if (times != nullptr) {
        t = TimeOf((*times)[i]);
      } else if (coords[i].size() >= 4) {
        t = TimeOf(coords[i][3]);
      }
      if (!t) {
        return Error(source_, at,
                     times != nullptr ? "its time in properties.times is not a time"
                                      : "no time: give properties.times (one per position) or "
                                        "[lon, lat, ele, unix_seconds]");
      }
      fix->time_unix_ms = *t;
      if (absl::Status s = fixes_.Add(*fix, internal::Cat(source_, ": ", at)); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::string_view source_;
  internal::FixList fixes_;
};

}  // namespace

absl::StatusOr<std::vector<TrackFix>> ParseGeoJsonTrack(std::string_view text,
                                                        std::string_view source) {
  if (absl::Status s = geo::CheckJsonNesting(text, source); !s.ok()) return s;
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(internal::Cat(source, ":", internal::LineOf(text, e.byte),
                                                    ": not valid JSON (", e.what(), ")"));
  }
  try {
    Reader reader(source);
    if (doc.is_object() && doc.value("type", "") == "FeatureCollection") {
      if (!doc.contains("features") || !doc["features"].is_array()) {
        return Error(source, "features", "missing or not an array");
      }
      for (std::size_t i = 0; i < doc["features"].size(); ++i) {
        if (absl::Status s = reader.Feature(doc["features"][i], internal::Cat("features[", i, "]"));
            !s.ok()) {
          return s;
        }
      }
    } else if (doc.is_object()) {
      if (absl::Status s = reader.Feature(doc, "feature"); !s.ok()) return s;
    } else {
      return Error(source, "document", "must be a GeoJSON object");
    }
    return std::move(reader).Finish();
  } catch (const json::exception& e) {
    // A value of an unexpected type the checks above missed: an error, never a crash.
    return Error(source, "document", e.what());
  }
}

}  // namespace cit::ctl
