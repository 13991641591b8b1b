// Exports of a run's stored track for GIS tools and investigators: GeoJSON, GPX 1.1, CSV.
//
// Written incrementally, for runs of any length: ExportStream reads the records page by page
// (track_pages.h) and hands out the document in parts: header, body, footer. GeoJSON and GPX
// take several passes over the records (coordinates, times, seqs, events...), each reading the
// same pinned range again, so memory is one page plus one part whatever the run's length.
//
//   auto s = ExportStream::Create(cit::v1::EXPORT_FORMAT_GPX, run, alerts,
//                                 std::make_unique<SourcePages>(source, range, 1000));
//   std::string part;
//   while (*(*s)->Next(part, 256 << 10)) { Send(part); part.clear(); }
//   Send(part);
//
//   // In memory, for small inputs and tests:
//   absl::StatusOr<cit::v1::ExportRunResponse> doc =
//       ExportRunTrack(cit::v1::EXPORT_FORMAT_GPX, run, records, alerts);
//
// - GeoJSON (RFC 7946) FeatureCollection: the driven track (LineString, per-vertex times in
//   properties.times), the planned route, each stop, each door/seal/panic/crew event and each
//   alert as a Point; every feature has properties.kind.
// - GPX 1.1: stops and events as <wpt>, the planned route as <rte>, the track as <trk> with one
//   <trkseg> per stretch without a gap over 60 s.
// - CSV (RFC 4180) with a header row: one line per stored record, chain hash included.
// Pure functions of their input: the same records always give the same bytes.
//
// Thread contract: free functions, no shared state; an ExportStream is used by one thread at a
// time.
#ifndef CIT_DISPATCH_SERVER_AUDIT_TRACK_EXPORT_H_
#define CIT_DISPATCH_SERVER_AUDIT_TRACK_EXPORT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

class RecordPages;

class ExportStream {
 public:
  // INVALID_ARGUMENT for an unspecified format.
  static absl::StatusOr<std::unique_ptr<ExportStream>> Create(cit::v1::ExportFormat format,
                                                              cit::v1::Run run,
                                                              std::vector<cit::v1::Alert> alerts,
                                                              std::unique_ptr<RecordPages> pages);
  ~ExportStream();

  // Appends the next part of the document to `out`, stopping once `out` holds target_bytes or
  // more (one page's text may go beyond). True while more is to come.
  absl::StatusOr<bool> Next(std::string& out, std::size_t target_bytes);

  const std::string& media_type() const { return media_type_; }
  // "<run_id>.<ext>"
  const std::string& file_name() const { return file_name_; }

 private:
  struct Step;
  struct State;
  explicit ExportStream(std::unique_ptr<RecordPages> pages);
  void Text(std::function<void(std::string&)> f);
  void Pass(std::function<bool(const cit::v1::StoredRecord&, std::string&)> f);
  void AddCsvSteps();
  void AddGpxSteps();
  void AddGeoJsonSteps();

  std::unique_ptr<RecordPages> pages_;
  // The page being written, kept between pages so its records' memory is reused.
  std::vector<cit::v1::StoredRecord> page_;
  std::unique_ptr<State> state_;
  cit::v1::Run run_;
  std::vector<cit::v1::Alert> alerts_;
  std::string media_type_;
  std::string file_name_;
  std::vector<Step> steps_;
  std::size_t step_ = 0;
  bool in_pass_ = false;
};

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
