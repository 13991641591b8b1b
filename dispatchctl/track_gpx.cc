// GPX tracks: <trkpt> (or <rtept>) with lat/lon, <time>, optional <speed>/<course>
// (track_formats.h).
//
// A scanner over the text rather than an XML tree: it knows the line of every point (errors
// name it), allocates nothing per point but the fix, and reads 86,400 points in milliseconds.
// It skips comments and CDATA and reads only the point elements and their children, so
// well-formed GPX from any writer is read; it does not validate the rest of the document.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "dispatchctl/track_common.h"
#include "dispatchctl/track_formats.h"

namespace cit::ctl {
namespace {

using internal::LineError;

// Next occurrence of `needle` at or after `from` outside comments and CDATA sections.
std::size_t FindTag(std::string_view text, std::string_view needle, std::size_t from) {
  while (from < text.size()) {
    const std::size_t at = text.find(needle, from);
    const std::size_t comment = text.find("<!--", from);
    const std::size_t cdata = text.find("<![CDATA[", from);
    const std::size_t skip = std::min(comment, cdata);
    if (at == std::string_view::npos || skip == std::string_view::npos || at < skip) return at;
    const std::size_t end = text.find(skip == comment ? "-->" : "]]>", skip);
    if (end == std::string_view::npos) return std::string_view::npos;
    from = end + 3;
  }
  return std::string_view::npos;
}

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

// Text of the first child <name>...</name> in `body` (the element's content), if any.
std::optional<std::string_view> Child(std::string_view body, std::string_view name) {
  const std::string open = internal::Cat("<", name, ">");
  const std::size_t at = FindTag(body, open, 0);
  if (at == std::string_view::npos) return std::nullopt;
  const std::size_t end = body.find(internal::Cat("</", name, ">"), at);
  if (end == std::string_view::npos) return std::nullopt;
  return internal::Strip(body.substr(at + open.size(), end - at - open.size()));
}

absl::StatusOr<TrackFix> ReadPoint(std::string_view tag, std::string_view body,
                                   std::string_view element, std::string_view source,
                                   std::size_t line) {
  std::optional<std::string_view> lat_text = Attribute(tag, "lat");
  std::optional<std::string_view> lon_text = Attribute(tag, "lon");
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
  std::optional<std::string_view> time = Child(body, "time");
  if (!time) {
    return LineError(source, line,
                     internal::Cat("<", element,
                                   "> without <time>: a plan check needs the time of "
                                   "every point"));
  }
  std::optional<int64_t> ms = internal::ParseRfc3339Ms(*time);
  if (!ms) {
    return LineError(source, line, internal::Cat("<time>", *time, "</time> is not RFC 3339"));
  }
  TrackFix fix;
  fix.time_unix_ms = *ms;
  fix.lat_deg = *lat;
  fix.lon_deg = *lon;
  if (std::optional<std::string_view> s = Child(body, "speed")) {
    std::optional<double> v = internal::ParseNumber(*s);
    if (!v || *v < 0)
      return LineError(source, line,
                       internal::Cat("<speed>", *s, "</speed> is not a speed in m/s"));
    fix.speed_mps = *v;
  }
  if (std::optional<std::string_view> c = Child(body, "course")) {
    std::optional<double> v = internal::ParseNumber(*c);
    if (!v || *v < 0 || *v >= 360) {
      return LineError(source, line, internal::Cat("<course>", *c, "</course> is not in [0, 360)"));
    }
    fix.track_deg = *v;
  }
  return fix;
}

}  // namespace

absl::StatusOr<std::vector<TrackFix>> ParseGpxTrack(std::string_view text,
                                                    std::string_view source) {
  if (FindTag(text, "<gpx", 0) == std::string_view::npos) {
    return absl::InvalidArgumentError(internal::Cat(source, ": not a GPX document (no <gpx>)"));
  }
  // Track points when there are any, else route points (a planned route with times).
  const std::string_view element =
      FindTag(text, "<trkpt", 0) != std::string_view::npos ? "trkpt" : "rtept";
  const std::string open = internal::Cat("<", element);
  const std::string close = internal::Cat("</", element, ">");
  internal::FixList fixes;
  std::size_t line = 1, counted_to = 0;
  for (std::size_t at = FindTag(text, open, 0); at != std::string_view::npos;
       at = FindTag(text, open, at + open.size())) {
    line += internal::LineOf(text.substr(counted_to, at - counted_to), std::string_view::npos) - 1;
    counted_to = at;
    const std::size_t tag_end = text.find('>', at);
    if (tag_end == std::string_view::npos) return LineError(source, line, "unterminated tag");
    const std::string_view tag = text.substr(at, tag_end - at);
    std::string_view body;
    if (tag.back() != '/') {
      const std::size_t end = text.find(close, tag_end);
      if (end == std::string_view::npos) {
        return LineError(source, line, internal::Cat("<", element, "> without ", close));
      }
      body = text.substr(tag_end + 1, end - tag_end - 1);
    }
    absl::StatusOr<TrackFix> fix = ReadPoint(tag, body, element, source, line);
    if (!fix.ok()) return fix.status();
    if (absl::Status s = fixes.Add(*fix, internal::Cat(source, ":", line)); !s.ok()) return s;
  }
  return std::move(fixes).Finish(source);
}

}  // namespace cit::ctl
