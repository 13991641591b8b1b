// Format choice, file reading and the wire form of a track (track_formats.h).
#include "dispatchctl/track_formats.h"

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "geo/input_limits.h"

namespace cit::ctl {
namespace {

TrackFormat ByExtension(const std::filesystem::path& path) {
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  if (ext == ".gpx") return TrackFormat::kGpx;
  if (ext == ".geojson" || ext == ".json") return TrackFormat::kGeoJson;
  if (ext == ".csv") return TrackFormat::kCsv;
  if (ext == ".nmea" || ext == ".nmea0183" || ext == ".log" || ext == ".txt") {
    return TrackFormat::kNmea;
  }
  return TrackFormat::kAuto;
}

// By the first non-blank character: '<' GPX, '{' GeoJSON, '$' NMEA, anything else CSV.
TrackFormat ByContent(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return TrackFormat::kCsv;
  switch (text[first]) {
    case '<':
      return TrackFormat::kGpx;
    case '{':
      return TrackFormat::kGeoJson;
    case '$':
    case '!':
      return TrackFormat::kNmea;
    default:
      return TrackFormat::kCsv;
  }
}

}  // namespace

std::optional<TrackFormat> ParseTrackFormat(std::string_view name) {
  if (name == "auto") return TrackFormat::kAuto;
  if (name == "gpx") return TrackFormat::kGpx;
  if (name == "geojson") return TrackFormat::kGeoJson;
  if (name == "csv") return TrackFormat::kCsv;
  if (name == "nmea") return TrackFormat::kNmea;
  return std::nullopt;
}

absl::StatusOr<std::vector<TrackFix>> ParseTrack(std::string_view text, std::string_view source,
                                                 TrackFormat format) {
  if (format == TrackFormat::kAuto) format = ByContent(text);
  switch (format) {
    case TrackFormat::kGpx:
      return ParseGpxTrack(text, source);
    case TrackFormat::kGeoJson:
      return ParseGeoJsonTrack(text, source);
    case TrackFormat::kNmea:
      return ParseNmeaTrack(text, source);
    case TrackFormat::kCsv:
    case TrackFormat::kAuto:
      break;
  }
  return ParseCsvTrack(text, source);
}

absl::StatusOr<std::vector<TrackFix>> LoadTrackFile(const std::filesystem::path& path,
                                                    TrackFormat format) {
  absl::StatusOr<std::string> text = geo::ReadFileBounded(path);
  if (!text.ok()) return text.status();
  if (format == TrackFormat::kAuto) format = ByExtension(path);
  return ParseTrack(*text, path.string(), format);
}

cit::v1::CheckTrack ToCheckTrack(const std::vector<TrackFix>& fixes) {
  cit::v1::CheckTrack t;
  bool any_speed = false, any_track = false;
  for (const TrackFix& f : fixes) {
    any_speed |= f.speed_mps.has_value();
    any_track |= f.track_deg.has_value();
  }
  constexpr float kNone = std::numeric_limits<float>::quiet_NaN();
  for (const TrackFix& f : fixes) {
    t.add_time_unix_ms(f.time_unix_ms);
    t.add_lat_deg(f.lat_deg);
    t.add_lon_deg(f.lon_deg);
    if (any_speed) t.add_speed_mps(f.speed_mps ? static_cast<float>(*f.speed_mps) : kNone);
    if (any_track) t.add_track_deg(f.track_deg ? static_cast<float>(*f.track_deg) : kNone);
  }
  return t;
}

}  // namespace cit::ctl
