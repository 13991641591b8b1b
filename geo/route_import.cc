#include "geo/route_import.h"

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "geo/input_limits.h"

namespace cit::geo {
namespace {

using nlohmann::json;

// Debian's Abseil is built without std::string_view aliasing: convert at the seams.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

absl::Status Error(std::string_view source, std::string_view element, std::string_view what) {
  if (element.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Av(source), ": ", Av(what)));
  }
  return absl::InvalidArgumentError(absl::StrCat(Av(source), ": ", Av(element), ": ", Av(what)));
}

absl::Status TooManyPoints(std::string_view source, std::string_view element,
                           std::optional<std::size_t> count) {
  return Error(source, element,
               absl::StrCat(count ? absl::StrCat("has ", *count, " points")
                                  : absl::StrCat("has more than ", kMaxRoutePoints, " points"),
                            "; a route may have at most ", kMaxRoutePoints,
                            " (simplify it, e.g. Douglas-Peucker with a few metres' tolerance)"));
}

// Checks one coordinate on its own, so that the error can name the element that is wrong.
absl::Status CheckLon(double lon) { return LonLat::Create(Longitude{lon}, Latitude{0.0}).status(); }
absl::Status CheckLat(double lat) { return LonLat::Create(Longitude{0.0}, Latitude{lat}).status(); }

std::string_view JsonTypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "discarded";
    default:
      return "a number";
  }
}

// A short rendering of a scalar for an error message. Arrays and objects are never dumped (their
// size is the sender's choice, and dump() recurses per level); strings are cut before quoting.
std::string Quoted(const json& j) {
  if (j.is_array()) return "[...]";
  if (j.is_object()) return "{...}";
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s.size() > 37)
      return json(s.substr(0, 34)).dump(-1, ' ', false, json::error_handler_t::replace) + "...";
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- where a JSON syntax error is: a SAX pass that tracks the element path -----------------
class PathTracker final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    after_value_ = false;
    frames_.push_back(Frame{false, 0, {}});
    return true;
  }
  bool key(string_t& k) override {
    after_value_ = false;
    frames_.back().key = k;
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override {
    after_value_ = false;
    frames_.push_back(Frame{true, 0, {}});
    return true;
  }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

  // `at_previous`: the error is about the element just completed (truncation after it, a
  // missing comma), not a new one (an invalid literal, an overflowing number).
  std::string Path(bool at_previous) const {
    std::string out;
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.array) {
        // Failing right after a complete element (truncation, missing comma): name that element.
        const bool after_last =
            at_previous && i + 1 == frames_.size() && after_value_ && f.index > 0;
        absl::StrAppend(&out, "[", after_last ? f.index - 1 : f.index, "]");
      } else if (!f.key.empty()) {
        absl::StrAppend(&out, out.empty() ? "" : ".", f.key);
      }
    }
    return out;
  }

 private:
  struct Frame {
    bool array;
    std::size_t index;
    std::string key;
  };
  bool Value() {
    after_value_ = true;
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return Value();
  }
  std::vector<Frame> frames_;
  bool after_value_ = false;
};

std::string PathOfSyntaxError(std::string_view text, bool at_previous) {
  PathTracker tracker;
  json::sax_parse(text.begin(), text.end(), &tracker, nlohmann::detail::input_format_t::json,
                  /*strict=*/true);
  return tracker.Path(at_previous);
}

// Whether the token at `pos` starts a new element (it follows '[', ',' or ':').
bool StartsNewElement(std::string_view text, std::size_t pos) {
  std::size_t i = std::min(pos, text.size());
  while (i > 0 && std::isalnum(static_cast<unsigned char>(text[i - 1]))) --i;  // token start
  while (i > 0 && std::isspace(static_cast<unsigned char>(text[i - 1]))) --i;
  return i > 0 && (text[i - 1] == ',' || text[i - 1] == '[' || text[i - 1] == ':');
}

// The token around byte offset `pos` (1-based, as nlohmann reports), for naming NaN/Infinity.
std::string TokenAt(std::string_view text, std::size_t pos) {
  if (text.empty()) return {};
  std::size_t end = std::min(pos, text.size());
  auto delimiter = [](char c) {
    return c == ',' || c == '[' || c == ']' || c == '{' || c == '}' || c == ':' ||
           std::isspace(static_cast<unsigned char>(c));
  };
  std::size_t begin = end;
  while (begin > 0 && !delimiter(text[begin - 1])) --begin;
  while (end < text.size() && !delimiter(text[end])) ++end;
  return std::string(text.substr(begin, std::min<std::size_t>(end - begin, 32)));
}

absl::Status JsonSyntaxError(std::string_view source, std::string_view text,
                             const json::exception& e, std::size_t byte) {
  std::string what = e.what();
  // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
  if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
  const bool at_end = byte >= text.size();
  const std::string path =
      PathOfSyntaxError(text, byte != 0 && (at_end || !StartsNewElement(text, byte)));
  const std::string token = absl::AsciiStrToLower(TokenAt(text, byte));
  std::string prefix = "invalid JSON";
  if (token.find("nan") != std::string::npos || token.find("inf") != std::string::npos) {
    prefix = absl::StrCat("'", TokenAt(text, byte),
                          "' is not a JSON number (coordinates must be finite); invalid JSON");
  } else if (at_end) {
    prefix = "truncated JSON (input ends early)";
  }
  return Error(source, path, absl::StrCat(prefix, ": ", what));
}

// ---- GeoJSON structure --------------------------------------------------------------------
absl::StatusOr<std::vector<LonLat>> ReadPositions(const json& coords, std::string_view source,
                                                  const std::string& path) {
  if (!coords.is_array()) {
    return Error(source, path,
                 absl::StrCat("expected an array of positions, got ", Av(JsonTypeName(coords))));
  }
  if (coords.size() < 2) {
    return Error(
        source, path,
        absl::StrCat("line has ", coords.size(), coords.size() == 1 ? " position" : " positions",
                     "; a route needs at least 2"));
  }
  if (coords.size() > kMaxRoutePoints) return TooManyPoints(source, path, coords.size());
  std::vector<LonLat> out;
  out.reserve(coords.size());
  for (std::size_t i = 0; i < coords.size(); ++i) {
    const json& pos = coords[i];
    const std::string here = absl::StrCat(path, "[", i, "]");
    if (!pos.is_array()) {
      return Error(source, here,
                   absl::StrCat("expected a position [lon, lat], got ", Av(JsonTypeName(pos))));
    }
    if (pos.size() < 2 || pos.size() > 3) {
      return Error(source, here,
                   absl::StrCat("expected [lon, lat] or [lon, lat, alt], got ", pos.size(),
                                pos.size() == 1 ? " element" : " elements"));
    }
    for (std::size_t k = 0; k < pos.size(); ++k) {
      if (!pos[k].is_number()) {
        return Error(
            source, absl::StrCat(here, "[", k, "]"),
            absl::StrCat("expected a number, got ", Av(JsonTypeName(pos[k])), " ", Quoted(pos[k])));
      }
    }
    const double lon = pos[0].get<double>();
    const double lat = pos[1].get<double>();
    if (absl::Status s = CheckLon(lon); !s.ok())
      return Error(source, here + "[0]", Sv(s.message()));
    if (absl::Status s = CheckLat(lat); !s.ok())
      return Error(source, here + "[1]", Sv(s.message()));
    out.push_back(*LonLat::Create(Longitude{lon}, Latitude{lat}));
  }
  return out;
}

bool IsLineType(const std::string& type) {
  return type == "LineString" || type == "MultiLineString";
}

absl::StatusOr<std::string> TypeOf(const json& obj, std::string_view source,
                                   const std::string& path) {
  const std::string here = path.empty() ? "type" : path + ".type";
  if (!obj.is_object()) {
    return Error(source, path.empty() ? "top level" : path,
                 absl::StrCat("expected a GeoJSON object, got ", Av(JsonTypeName(obj))));
  }
  auto it = obj.find("type");
  if (it == obj.end()) return Error(source, here, "missing");
  if (!it->is_string()) {
    return Error(source, here, absl::StrCat("expected a string, got ", Av(JsonTypeName(*it))));
  }
  return it->get<std::string>();
}

// A LineString (or single-line MultiLineString) geometry object at `path`.
absl::StatusOr<std::vector<LonLat>> ReadLineGeometry(const json& geom, std::string_view source,
                                                     const std::string& path) {
  absl::StatusOr<std::string> type = TypeOf(geom, source, path);
  if (!type.ok()) return type.status();
  const std::string dot = path.empty() ? "" : path + ".";
  if (!IsLineType(*type)) {
    return Error(source, dot + "type",
                 absl::StrCat("geometry type is \"", *type, "\"; a route must be a LineString"));
  }
  auto it = geom.find("coordinates");
  if (it == geom.end()) return Error(source, dot + "coordinates", "missing");
  if (*type == "LineString") return ReadPositions(*it, source, dot + "coordinates");
  if (!it->is_array() || it->size() != 1) {
    return Error(source, dot + "coordinates",
                 absl::StrCat("a MultiLineString route must hold exactly one line, got ",
                              it->is_array() ? std::to_string(it->size()) : "no array"));
  }
  return ReadPositions((*it)[0], source, dot + "coordinates[0]");
}

absl::StatusOr<std::vector<LonLat>> ReadFeature(const json& feature, std::string_view source,
                                                const std::string& path) {
  const std::string dot = path.empty() ? "" : path + ".";
  auto it = feature.find("geometry");
  if (it == feature.end()) return Error(source, dot + "geometry", "missing");
  if (it->is_null()) return Error(source, dot + "geometry", "is null; expected a LineString");
  return ReadLineGeometry(*it, source, dot + "geometry");
}

// ---- GPX ----------------------------------------------------------------------------------
namespace pt = boost::property_tree;

absl::StatusOr<double> ParseNumber(const std::string& raw, std::string_view source,
                                   const std::string& where) {
  std::string_view s = Sv(absl::StripAsciiWhitespace(raw));
  double value = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return Error(source, where, absl::StrCat("\"", raw.substr(0, 40), "\" is not a number"));
  }
  return value;
}

absl::StatusOr<LonLat> ReadGpxPoint(const pt::ptree& node, std::string_view source,
                                    const std::string& where) {
  const auto lat_raw = node.get_optional<std::string>("<xmlattr>.lat");
  const auto lon_raw = node.get_optional<std::string>("<xmlattr>.lon");
  if (!lat_raw) return Error(source, where + "@lat", "attribute missing");
  if (!lon_raw) return Error(source, where + "@lon", "attribute missing");
  absl::StatusOr<double> lat = ParseNumber(*lat_raw, source, where + "@lat");
  if (!lat.ok()) return lat.status();
  absl::StatusOr<double> lon = ParseNumber(*lon_raw, source, where + "@lon");
  if (!lon.ok()) return lon.status();
  if (absl::Status s = CheckLat(*lat); !s.ok())
    return Error(source, where + "@lat", Sv(s.message()));
  if (absl::Status s = CheckLon(*lon); !s.ok())
    return Error(source, where + "@lon", Sv(s.message()));
  return *LonLat::Create(Longitude{*lon}, Latitude{*lat});
}

constexpr std::size_t kMaxXmlDepth = kMaxNestingDepth;

// Upper bound of the element nesting depth: counts "<name" opens, and "</" or a "/>" ending a
// tag (outside quoted attribute values) as closes; comments, CDATA, declarations and processing
// instructions are not tags. Markup inside comments or CDATA only makes the estimate larger.
std::size_t MaxXmlDepth(std::string_view text) {
  std::size_t depth = 0, max_depth = 0;
  bool in_tag = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (in_tag) {
      if (c == '"' || c == '\'') {
        const std::size_t close = text.find(c, i + 1);
        if (close == std::string_view::npos) break;  // truncated: the parser will say so
        i = close;
      } else if (c == '/' && next == '>') {
        depth = depth > 0 ? depth - 1 : 0;
        in_tag = false;
        ++i;
      } else if (c == '>') {
        in_tag = false;
      }
    } else if (c == '<') {
      if (next == '/') {
        depth = depth > 0 ? depth - 1 : 0;
      } else if (next != '!' && next != '?') {
        max_depth = std::max(max_depth, ++depth);
        in_tag = true;
      }
    }
  }
  return max_depth;
}

absl::StatusOr<std::vector<LonLat>> ReadGpx(const pt::ptree& doc, std::string_view source) {
  const auto gpx = doc.get_child_optional("gpx");
  if (!gpx) {
    std::string root = doc.empty() ? std::string("nothing") : "<" + doc.front().first + ">";
    return Error(source, "", absl::StrCat("root element is ", root, ", expected <gpx>"));
  }
  int routes = 0, tracks = 0;
  const pt::ptree* chosen = nullptr;
  bool chosen_is_track = false;
  for (const auto& [name, child] : *gpx) {
    if (name == "rte" || name == "trk") {
      (name == "rte" ? routes : tracks)++;
      chosen = &child;
      chosen_is_track = name == "trk";
    }
  }
  if (routes + tracks != 1) {
    return Error(source, "gpx",
                 absl::StrCat("expected exactly one <rte> or <trk>, found ", routes, " <rte> and ",
                              tracks, " <trk>"));
  }
  std::vector<LonLat> out;
  if (!chosen_is_track) {
    int i = 0;
    for (const auto& [name, child] : *chosen) {
      if (name != "rtept") continue;
      absl::StatusOr<LonLat> p =
          ReadGpxPoint(child, source, absl::StrCat("gpx/rte/rtept[", i++, "]"));
      if (!p.ok()) return p.status();
      out.push_back(*p);
    }
  } else {
    int seg = 0;
    for (const auto& [seg_name, segment] : *chosen) {
      if (seg_name != "trkseg") continue;
      int i = 0;
      for (const auto& [name, child] : segment) {
        if (name != "trkpt") continue;
        absl::StatusOr<LonLat> p =
            ReadGpxPoint(child, source, absl::StrCat("gpx/trk/trkseg[", seg, "]/trkpt[", i++, "]"));
        if (!p.ok()) return p.status();
        out.push_back(*p);
      }
      ++seg;
    }
  }
  if (out.size() < 2) {
    return Error(source, chosen_is_track ? "gpx/trk" : "gpx/rte",
                 absl::StrCat("has ", out.size(), out.size() == 1 ? " point" : " points",
                              "; a route needs at least 2"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<LonLat>> ImportGeoJsonRoute(std::string_view text,
                                                       std::string_view source_name) {
  // Before the parser: nothing below may meet a document deeper than the stack allows.
  if (absl::Status s = CheckJsonNesting(text, source_name); !s.ok()) return s;
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/true,
                      /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    return JsonSyntaxError(source_name, text, e, e.byte);
  } catch (const json::exception& e) {  // e.g. out_of_range 406: number overflow (1e999)
    return JsonSyntaxError(source_name, text, e, 0);
  } catch (const std::exception& e) {
    return Error(source_name, "", absl::StrCat("invalid JSON: ", e.what()));
  }
  try {
    absl::StatusOr<std::string> type = TypeOf(doc, source_name, "");
    if (!type.ok()) return type.status();
    if (IsLineType(*type)) return ReadLineGeometry(doc, source_name, "");
    if (*type == "Feature") return ReadFeature(doc, source_name, "");
    if (*type == "FeatureCollection") {
      auto it = doc.find("features");
      if (it == doc.end()) return Error(source_name, "features", "missing");
      if (!it->is_array()) {
        return Error(source_name, "features",
                     absl::StrCat("expected an array, got ", Av(JsonTypeName(*it))));
      }
      std::vector<std::size_t> lines;
      std::vector<std::string> other_types;
      for (std::size_t i = 0; i < it->size(); ++i) {
        const json& f = (*it)[i];
        const std::string path = absl::StrCat("features[", i, "]");
        absl::StatusOr<std::string> ftype = TypeOf(f, source_name, path);
        if (!ftype.ok()) return ftype.status();
        if (*ftype != "Feature") {
          return Error(source_name, path + ".type",
                       absl::StrCat("is \"", *ftype, "\", expected \"Feature\""));
        }
        auto g = f.find("geometry");
        if (g == f.end() || g->is_null()) continue;  // features without geometry carry no line
        absl::StatusOr<std::string> gtype = TypeOf(*g, source_name, path + ".geometry");
        if (!gtype.ok()) return gtype.status();
        if (IsLineType(*gtype)) {
          lines.push_back(i);
        } else {
          other_types.push_back(absl::StrCat(path, ".geometry.type \"", *gtype, "\""));
        }
      }
      if (lines.size() != 1) {
        std::vector<std::string> names;
        for (std::size_t i : lines) names.push_back(absl::StrCat("features[", i, "]"));
        return Error(source_name, "features",
                     lines.empty()
                         ? absl::StrCat("no LineString feature (a route must be a LineString)",
                                        other_types.empty() ? "" : "; found ",
                                        absl::StrJoin(other_types, ", "))
                         : absl::StrCat("expected exactly one LineString feature, found ",
                                        lines.size(), ": ", absl::StrJoin(names, ", ")));
      }
      return ReadFeature((*it)[lines[0]], source_name, absl::StrCat("features[", lines[0], "]"));
    }
    return Error(
        source_name, "type",
        absl::StrCat("is \"", *type, "\"; expected LineString, Feature or FeatureCollection"));
  } catch (const std::exception& e) {  // defensive: nlohmann accessors on unexpected shapes
    return Error(source_name, "", absl::StrCat("unexpected GeoJSON structure: ", e.what()));
  }
}

absl::StatusOr<std::vector<LonLat>> ImportGpxRoute(std::string_view text,
                                                   std::string_view source_name) {
  // rapidxml (inside PropertyTree) recurses per nesting level: bound the depth first so that a
  // hostile file cannot exhaust the stack. GPX needs 4 levels (gpx/trk/trkseg/trkpt + extras).
  if (const std::size_t depth = MaxXmlDepth(text); depth > kMaxXmlDepth) {
    return Error(
        source_name, "",
        absl::StrCat("XML nested ", depth, " levels deep; at most ", kMaxXmlDepth, " supported"));
  }
  // PropertyTree allocates a node per element and attribute: count the points first, so that
  // an oversized route is refused before that cost (tags inside comments only over-count).
  std::size_t points = 0;
  for (std::string_view tag : {"<rtept", "<trkpt"}) {
    for (std::size_t at = text.find(tag); at != std::string_view::npos && points <= kMaxRoutePoints;
         at = text.find(tag, at + tag.size())) {
      ++points;
    }
  }
  if (points > kMaxRoutePoints) return TooManyPoints(source_name, "gpx", std::nullopt);
  pt::ptree doc;
  try {
    std::istringstream in{std::string(text)};
    pt::read_xml(in, doc, pt::xml_parser::no_comments);
  } catch (const pt::xml_parser_error& e) {
    return Error(source_name, "",
                 absl::StrCat("invalid XML at line ", e.line(), ": ", e.message()));
  } catch (const std::exception& e) {
    return Error(source_name, "", absl::StrCat("invalid XML: ", e.what()));
  }
  try {
    return ReadGpx(doc, source_name);
  } catch (const std::exception& e) {
    return Error(source_name, "", absl::StrCat("unexpected GPX structure: ", e.what()));
  }
}

absl::StatusOr<std::vector<LonLat>> DecodePolyline(std::string_view encoded, int precision) {
  constexpr std::string_view kSource = "polyline";
  if (precision != 5 && precision != 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("polyline precision must be 5 or 6, got ", precision));
  }
  const double scale = precision == 5 ? 1e5 : 1e6;
  std::vector<LonLat> out;
  std::int64_t value[2] = {0, 0};  // lat, lon in units of 10^-precision degrees
  std::size_t i = 0;
  while (i < encoded.size()) {
    if (out.size() == kMaxRoutePoints) return TooManyPoints(kSource, "", std::nullopt);
    for (int k = 0; k < 2; ++k) {
      const std::string element =
          absl::StrCat("point ", out.size(), k == 0 ? " latitude" : " longitude");
      if (i >= encoded.size()) {
        return Error(kSource, element,
                     "missing: the string ends after a latitude (truncated polyline)");
      }
      std::uint64_t result = 0;
      int shift = 0;
      int chunk = 0;
      do {
        if (i >= encoded.size()) {
          return Error(kSource, element,
                       absl::StrCat("the string ends inside this value at character ", i,
                                    " (truncated polyline)"));
        }
        const unsigned char c = static_cast<unsigned char>(encoded[i]);
        if (c < 63 || c > 126) {
          return Error(kSource, element,
                       absl::StrCat("invalid character 0x", absl::Hex(c), " at offset ", i,
                                    " (polyline characters are '?'..'~')"));
        }
        chunk = c - 63;
        if (shift > 55) {
          return Error(kSource, element, absl::StrCat("value too long at offset ", i));
        }
        result |= static_cast<std::uint64_t>(chunk & 0x1f) << shift;
        shift += 5;
        ++i;
      } while (chunk >= 0x20);
      const std::int64_t half = static_cast<std::int64_t>(result >> 1);
      value[k] += (result & 1) ? ~half : half;
    }
    const double lat = static_cast<double>(value[0]) / scale;
    const double lon = static_cast<double>(value[1]) / scale;
    const std::string element = absl::StrCat("point ", out.size());
    if (absl::Status s = CheckLat(lat); !s.ok()) {
      return Error(kSource, element, absl::StrCat(s.message(), " (wrong precision?)"));
    }
    if (absl::Status s = CheckLon(lon); !s.ok()) {
      return Error(kSource, element, absl::StrCat(s.message(), " (wrong precision?)"));
    }
    out.push_back(*LonLat::Create(Longitude{lon}, Latitude{lat}));
  }
  if (out.size() < 2) {
    return Error(kSource, "",
                 absl::StrCat("has ", out.size(), out.size() == 1 ? " point" : " points",
                              "; a route needs at least 2"));
  }
  return out;
}

absl::StatusOr<std::vector<LonLat>> ImportRouteFile(const std::filesystem::path& path) {
  const std::string name = path.string();
  absl::StatusOr<std::string> read = ReadFileBounded(path);  // regular files, 64 MiB at most
  if (!read.ok()) return read.status();
  const std::string& text = *read;
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  if (ext == ".geojson" || ext == ".json") return ImportGeoJsonRoute(text, name);
  if (ext == ".gpx") return ImportGpxRoute(text, name);
  if (ext == ".polyline" || ext == ".polyline6") {
    absl::StatusOr<std::vector<LonLat>> r =
        DecodePolyline(Sv(absl::StripAsciiWhitespace(text)), ext == ".polyline6" ? 6 : 5);
    if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", r.status().message()));
    return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(name, ": unknown route format '", ext,
                   "'; expected .geojson, .json, .gpx, .polyline or .polyline6"));
}

}  // namespace cit::geo
