// Route import: GeoJSON, GPX and encoded polylines (as routing engines return them).
//
//   absl::StatusOr<std::vector<LonLat>> route = ImportRouteFile("plans/run-17.geojson");
//   if (!route.ok()) return route.status();
//   // "plans/run-17.geojson: features[0].geometry.coordinates[12][1]: latitude 91 is outside
//   //  [-90, 90]"
//
// Errors are InvalidArgument (NotFound for a missing file) and name the source, the element and
// what is wrong. Every importer rejects lines with fewer than 2 points. No input crashes them:
// they catch their parsers' exceptions and never index unchecked, refuse JSON or XML nested more
// than kMaxNestingDepth (geo/input_limits.h) before parsing, and never echo more than a few dozen
// characters of the input in a message.
//
// Formats:
//  - GeoJSON (RFC 7946): a LineString geometry, a Feature with a LineString geometry, or a
//    FeatureCollection with exactly one LineString feature (Point features, e.g. stops, are
//    ignored). A MultiLineString with exactly one line is accepted as that line. Positions are
//    [lon, lat] or [lon, lat, alt].
//  - GPX 1.0/1.1: exactly one <rte> (its <rtept>s) or one <trk> (its <trkpt>s, segments
//    concatenated). Parsed with Boost.PropertyTree's XML reader (rapidxml inside).
//  - Encoded polyline (Google's algorithm; lat before lon), precision 5 (OSRM, Google) or 6
//    (Valhalla, OSRM with geometries=polyline6).
//
// Thread contract: free functions without shared state; safe to call concurrently.
#ifndef CIT_GEO_ROUTE_IMPORT_H_
#define CIT_GEO_ROUTE_IMPORT_H_

#include <cstddef>
#include <filesystem>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "geo/lon_lat.h"

namespace cit::geo {

// The most points a route may have, whatever its source (DESIGN §9: sizes bounded). Importers
// stop reading at the first point past it and refuse the route, so an oversized input costs no
// more than the limit: a GPX document is counted before it is parsed, a polyline stops decoding.
inline constexpr std::size_t kMaxRoutePoints = 100'000;

// `source_name` (a file name or "request body") prefixes every error message.
absl::StatusOr<std::vector<LonLat>> ImportGeoJsonRoute(std::string_view text,
                                                       std::string_view source_name);
absl::StatusOr<std::vector<LonLat>> ImportGpxRoute(std::string_view text,
                                                   std::string_view source_name);
// precision: 5 or 6 decimal digits.
absl::StatusOr<std::vector<LonLat>> DecodePolyline(std::string_view encoded, int precision);

// Reads `path` and picks the importer by extension: .geojson/.json, .gpx, .polyline (precision
// 5) or .polyline6 (precision 6; surrounding whitespace ignored).
absl::StatusOr<std::vector<LonLat>> ImportRouteFile(const std::filesystem::path& path);

}  // namespace cit::geo

#endif  // CIT_GEO_ROUTE_IMPORT_H_
