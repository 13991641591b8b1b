// GPX tracks: <trkpt> (or <rtept>) with lat/lon, <time>, optional <speed>/<course>
// (track_formats.h).
//
// A scanner over the text rather than an XML tree: it knows the line of every point (errors
// name it), allocates nothing per point but the fix, and reads 86,400 points in milliseconds.
// It steps over comments, CDATA, declarations and processing instructions and reads only the
// point elements and their <time>/<speed>/<course> children, so well-formed GPX from any writer
// is read; it does not validate the rest of the document.
//
// Every byte is looked at a bounded number of times (one pass to choose the point element, one
// to read the points): an earlier version searched the rest of the document for comments once
// per point, which a fuzzer turned into a stall of many seconds on a 100 kB input.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "dispatchctl/track_common.h"
#include "dispatchctl/track_formats.h"

namespace cit::ctl {
namespace {

using internal::LineError;

// One start or end tag. `inner` is the text between '<' and '>' (attributes included).
struct Tag {
  std::string_view name;
  std::string_view inner;
  std::size_t begin = 0;                     // offset of '<'
  std::size_t end = std::string_view::npos;  // offset after '>'; npos when never closed
  bool closing = false;
  bool self_closing = false;
};

bool IsNameEnd(char c) {
  return c == '/' || c == '>' || absl::ascii_isspace(static_cast<unsigned char>(c));
}

// Reports the document's tags front to back, once each, stepping over comments, CDATA,
// declarations (<!DOCTYPE ...>) and processing instructions (<?xml ...?>).
class TagScanner {
 public:
  explicit TagScanner(std::string_view text) : text_(text) {}

  // The next tag; nullopt at the end of the document (or of an unterminated comment). A tag
  // without its '>' is reported once with end == npos and ends the scan.
  std::optional<Tag> Next() {
    while (pos_ < text_.size()) {
      const std::size_t at = text_.find('<', pos_);
      if (at == std::string_view::npos) break;
      const std::string_view rest = text_.substr(at);
      if (rest.starts_with("<!--")) {
        SkipPast(at + 4, "-->");
      } else if (rest.starts_with("<![CDATA[")) {
        SkipPast(at + 9, "]]>");
      } else if (rest.starts_with("<!") || rest.starts_with("<?")) {
        SkipPast(at + 2, ">");
      } else {
        return ReadTag(at);
      }
    }
    pos_ = text_.size();
    return std::nullopt;
  }

 private:
  void SkipPast(std::size_t from, std::string_view terminator) {
    const std::size_t end = text_.find(terminator, from);
    pos_ = end == std::string_view::npos ? text_.size() : end + terminator.size();
  }

  Tag ReadTag(std::size_t at) {
    Tag tag;
    tag.begin = at;
    std::size_t name_begin = at + 1;
    if (name_begin < text_.size() && text_[name_begin] == '/') {
      tag.closing = true;
      ++name_begin;
    }
    std::size_t name_end = name_begin;
    while (name_end < text_.size() && !IsNameEnd(text_[name_end])) ++name_end;
    tag.name = text_.substr(name_begin, name_end - name_begin);
    const std::size_t close = text_.find('>', name_end);
    if (close == std::string_view::npos) {
      pos_ = text_.size();
      return tag;
    }
    tag.inner = text_.substr(at + 1, close - at - 1);
    tag.end = close + 1;
    tag.self_closing = !tag.closing && tag.inner.ends_with('/');
    pos_ = tag.end;
    return tag;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// The value of attribute `name` in a start tag's text, unquoted.
std::optional<std::string_view> Attribute(std::string_view tag, std::string_view name) {
  for (std::size_t at = tag.find(name); at != std::string_view::npos; at = tag.find(name, at + 1)) {
    // A whole attribute name: preceded by whitespace, followed by optional space and '='.
    if (at == 0 || !absl::ascii_isspace(static_cast<unsigned char>(tag[at - 1]))) continue;
    std::size_t i = at + name.size();
    while (i < tag.size() && absl::ascii_isspace(static_cast<unsigned char>(tag[i]))) ++i;
    if (i >= tag.size() || tag[i] != '=') continue;
    ++i;
    while (i < tag.size() && absl::ascii_isspace(static_cast<unsigned char>(tag[i]))) ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) return std::nullopt;
    const std::size_t end = tag.find(tag[i], i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return tag.substr(i + 1, end - i - 1);
  }
  return std::nullopt;
}

// A point element being read: its start tag, its line and the children seen so far (the first
// of each name counts, at any depth inside the point).
struct OpenPoint {
  std::string_view tag;
  std::size_t line = 0;
  std::optional<std::string_view> time, speed, course;
  std::optional<std::string_view>* child = nullptr;  // the child whose end tag is awaited
  std::string_view child_name;
  std::size_t child_text_begin = 0;

  std::optional<std::string_view>* Field(std::string_view name) {
    if (name == "time") return &time;
    if (name == "speed") return &speed;
    if (name == "course") return &course;
    return nullptr;
  }
};

absl::StatusOr<TrackFix> ReadPoint(const OpenPoint& point, std::string_view element,
                                   std::string_view source) {
  const std::size_t line = point.line;
  std::optional<std::string_view> lat_text = Attribute(point.tag, "lat");
  std::optional<std::string_view> lon_text = Attribute(point.tag, "lon");
  if (!lat_text || !lon_text) {
    return LineError(source, line, internal::Cat("<", element, "> without lat and lon attributes"));
  }
  std::optional<double> lat = internal::ParseNumber(*lat_text);
  std::optional<double> lon = internal::ParseNumber(*lon_text);
  if (!lat || !lon) {
    return LineError(source, line,
                     internal::Cat("lat=\"", *lat_text, "\" lon=\"", *lon_text, "\": not numbers"));
  }
  if (std::string p = internal::PositionProblem(*lat, *lon); !p.empty()) {
    return LineError(source, line, p);
  }
  if (!point.time) {
    return LineError(source, line,
                     internal::Cat("<", element,
                                   "> without <time>: a plan check needs the time of "
                                   "every point"));
  }
  std::optional<int64_t> ms = internal::ParseRfc3339Ms(*point.time);
  if (!ms) {
    return LineError(source, line, internal::Cat("<time>", *point.time, "</time> is not RFC 3339"));
  }
  TrackFix fix;
  fix.time_unix_ms = *ms;
  fix.lat_deg = *lat;
  fix.lon_deg = *lon;
  if (point.speed) {
    std::optional<double> v = internal::ParseNumber(*point.speed);
    if (!v || *v < 0)
      return LineError(source, line,
                       internal::Cat("<speed>", *point.speed, "</speed> is not a speed in m/s"));
    fix.speed_mps = *v;
  }
  if (point.course) {
    std::optional<double> v = internal::ParseNumber(*point.course);
    if (!v || *v < 0 || *v >= 360) {
      return LineError(source, line,
                       internal::Cat("<course>", *point.course, "</course> is not in [0, 360)"));
    }
    fix.track_deg = *v;
  }
  return fix;
}

// Whether the document is GPX and which element carries its points: track points when there
// are any, else route points (a planned route with times). Empty when not GPX.
std::string_view PointElement(std::string_view text) {
  bool gpx = false, trkpt = false;
  TagScanner tags(text);
  while (std::optional<Tag> tag = tags.Next()) {
    if (tag->closing) continue;
    gpx = gpx || tag->name == "gpx";
    trkpt = trkpt || tag->name == "trkpt";
  }
  if (!gpx) return {};
  return trkpt ? "trkpt" : "rtept";
}

}  // namespace

absl::StatusOr<std::vector<TrackFix>> ParseGpxTrack(std::string_view text,
                                                    std::string_view source) {
  const std::string_view element = PointElement(text);
  if (element.empty()) {
    return absl::InvalidArgumentError(internal::Cat(source, ": not a GPX document (no <gpx>)"));
  }
  const auto unclosed = [&](const OpenPoint& p) {
    return LineError(source, p.line, internal::Cat("<", element, "> without </", element, ">"));
  };
  internal::FixList fixes;
  std::optional<OpenPoint> point;
  std::size_t line = 1, counted_to = 0;
  TagScanner tags(text);
  while (std::optional<Tag> tag = tags.Next()) {
    line +=
        internal::LineOf(text.substr(counted_to, tag->begin - counted_to), std::string_view::npos) -
        1;
    counted_to = tag->begin;
    if (!tag->closing && tag->name == element) {
      if (point) return unclosed(*point);
      if (tag->end == std::string_view::npos) return LineError(source, line, "unterminated tag");
      point.emplace();
      point->tag = tag->inner;
      point->line = line;
      if (!tag->self_closing) continue;
    } else if (!point) {
      continue;
    } else if (!tag->closing) {
      std::optional<std::string_view>* field = point->Field(tag->name);
      if (field != nullptr && !*field && point->child == nullptr && !tag->self_closing) {
        point->child = field;
        point->child_name = tag->name;
        point->child_text_begin = tag->end;
      }
      continue;
    } else if (tag->name != element) {
      if (point->child != nullptr && tag->name == point->child_name) {
        *point->child = internal::Strip(
            text.substr(point->child_text_begin, tag->begin - point->child_text_begin));
        point->child = nullptr;
      }
      continue;
    }
    // The point's end (or a self-closing point): read it.
    absl::StatusOr<TrackFix> fix = ReadPoint(*point, element, source);
    if (!fix.ok()) return fix.status();
    if (absl::Status s = fixes.Add(*fix, internal::Cat(source, ":", point->line)); !s.ok()) {
      return s;
    }
    point.reset();
  }
  if (point) return unclosed(*point);
  return std::move(fixes).Finish(source);
}

}  // namespace cit::ctl
