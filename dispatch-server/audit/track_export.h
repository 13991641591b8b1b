// Exports of a run's stored track for GIS tools and investigators: GeoJSON, GPX 1.1, CSV.
//
//   absl::StatusOr<cit::v1::ExportRunResponse> doc =
//       ExportRunTrack(cit::v1::EXPORT_FORMAT_GPX, run, records, alerts);
//   WriteFile(doc->suggested_file_name(), doc->content());
//
// - GeoJSON (RFC 7946) FeatureCollection: the driven track (LineString, per-vertex times in
//   properties.times), the planned route, each stop, each door/seal/panic/crew event and each
//   alert as a Point; every feature has properties.kind.
// - GPX 1.1: stops and events as <wpt>, the planned route as <rte>, the track as <trk> with one
//   <trkseg> per stretch without a gap over 60 s.
// - CSV (RFC 4180) with a header row: one line per stored record, chain hash included.
// Pure functions of their input: the same records always give the same bytes.
//
// Thread contract: free functions, no shared state.
#ifndef CIT_DISPATCH_SERVER_AUDIT_TRACK_EXPORT_H_
#define CIT_DISPATCH_SERVER_AUDIT_TRACK_EXPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

std::string TrackGeoJson(const cit::v1::Run& run, const std::vector<cit::v1::StoredRecord>& records,
                         const std::vector<cit::v1::Alert>& alerts);
std::string TrackGpx(const cit::v1::Run& run, const std::vector<cit::v1::StoredRecord>& records);
std::string TrackCsv(const std::vector<cit::v1::StoredRecord>& records);

// The document with its media type and a file name "<run_id>.<ext>"; INVALID_ARGUMENT for an
// unspecified format.
absl::StatusOr<cit::v1::ExportRunResponse> ExportRunTrack(
    cit::v1::ExportFormat format, const cit::v1::Run& run,
    const std::vector<cit::v1::StoredRecord>& records, const std::vector<cit::v1::Alert>& alerts);

// "fix", "door", "seal", "panic", "crew", "gnss", "heartbeat" or "unknown".
std::string RecordKind(const cit::v1::Record& record);
// Short human text of a non-fix record, e.g. "door 1 open", "seal 2 broken".
std::string RecordDetail(const cit::v1::Record& record);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_TRACK_EXPORT_H_
