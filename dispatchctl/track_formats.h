// Track files for `dispatchctl plan check PLAN --track FILE` (issue 13): GPX, GeoJSON, CSV and
// NMEA, each read by its own parser (track_gpx.cc, track_geojson.cc, track_csv.cc,
// track_nmea.cc) into time-ordered fixes.
//
//   absl::StatusOr<std::vector<TrackFix>> fixes = LoadTrackFile("drive.nmea", TrackFormat::kAuto);
//   // INVALID_ARGUMENT "drive.nmea:12: checksum *4C, computed *4B (damaged line?)"
//
// What each accepts:
// - GPX 1.0/1.1: every <trkpt> (else every <rtept>) with lat/lon attributes and a <time>;
//   <speed> (m/s, GPX 1.0) and <course> (degrees) when present. A point without <time> is an
//   error: a plan check needs times.
// - GeoJSON: a FeatureCollection, Feature or bare geometry. Point features with a time property
//   (`time`, `timestamp` or `datetime`: RFC 3339 text or Unix seconds) and optional `speed`
//   (m/s) and `course`/`track` (degrees); LineString features with a parallel time array in
//   properties `times` or `coordTimes` (as GPX converters write), or with each position's
//   fourth element as Unix seconds ([lon, lat, ele, t]). Coordinates are [lon, lat].
// - CSV: `time,lat,lon[,speed,track]` (speed m/s, track degrees); time as RFC 3339 or Unix
//   seconds. A first line whose first field is not a time is a header (its names are not
//   checked); blank lines and lines starting with '#' are skipped.
// - NMEA 0183: RMC and GGA sentences of any talker ($GP, $GN, $GL, ...), each with a valid
//   checksum (a sentence without one is refused); RMC gives the date, speed and course, GGA
//   the position between RMCs (dated by the RMC that follows or precedes it). Sentences
//   without a fix (RMC status V, GGA quality 0) and other sentence types are skipped. Lines
//   not starting with '$' or '!' are errors, except blank lines and '#' comments.
// Fixes must be in time order (equal times are kept once, the first). Errors name the file and
// line ("drive.csv:7: ..."), or for GeoJSON the element ("features[3].properties.time: ...").
//
// Bounds: the file at most 64 MiB (regular files only, geo/input_limits.h), at most
// kMaxTrackFixes fixes (the server's own limit), GeoJSON nesting at most 64 levels.
//
// Thread contract: free functions, no shared state.
#ifndef CIT_DISPATCHCTL_TRACK_FORMATS_H_
#define CIT_DISPATCHCTL_TRACK_FORMATS_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::ctl {

// The server's limit (dispatch-server/plancheck/check_track.h): a day at 1 Hz is 86,400.
inline constexpr std::size_t kMaxTrackFixes = 100'000;

struct TrackFix {
  int64_t time_unix_ms = 0;
  double lat_deg = 0;
  double lon_deg = 0;
  std::optional<double> speed_mps;
  std::optional<double> track_deg;
};

enum class TrackFormat { kAuto, kGpx, kGeoJson, kCsv, kNmea };

// "gpx", "geojson", "csv", "nmea", "auto".
std::optional<TrackFormat> ParseTrackFormat(std::string_view name);

// `source` names the input in errors (a file name).
absl::StatusOr<std::vector<TrackFix>> ParseGpxTrack(std::string_view text, std::string_view source);
absl::StatusOr<std::vector<TrackFix>> ParseGeoJsonTrack(std::string_view text,
                                                        std::string_view source);
absl::StatusOr<std::vector<TrackFix>> ParseCsvTrack(std::string_view text, std::string_view source);
absl::StatusOr<std::vector<TrackFix>> ParseNmeaTrack(std::string_view text,
                                                     std::string_view source);

// kAuto: by extension (.gpx, .geojson/.json, .csv, .nmea/.nmea0183/.log/.txt), else by content.
absl::StatusOr<std::vector<TrackFix>> ParseTrack(std::string_view text, std::string_view source,
                                                 TrackFormat format);
absl::StatusOr<std::vector<TrackFix>> LoadTrackFile(const std::filesystem::path& path,
                                                    TrackFormat format);

// The wire form (CheckTrack columns).
cit::v1::CheckTrack ToCheckTrack(const std::vector<TrackFix>& fixes);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_TRACK_FORMATS_H_
