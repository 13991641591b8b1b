// `dispatchctl audit export`: the server's StreamExport written to a file or stdout as the
// parts arrive, so memory does not grow with the run's length.
//
//   absl::StatusOr<ExportDownload> d = DownloadExport(conn.audit(), ctx, request, "run.gpx");
//
// A file is written as "<file>.part-<random>" in the same directory and renamed to <file> only
// after the server ended the stream with OK and every byte is on disk: a broken stream never
// leaves a truncated export under the requested name (the partial file is removed). "-" or ""
// writes to stdout (a failure then shows in the exit status and on stderr only).
//
// Thread contract: one call per thread; the stub is thread-safe.
#ifndef CIT_DISPATCHCTL_EXPORT_DOWNLOAD_H_
#define CIT_DISPATCHCTL_EXPORT_DOWNLOAD_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "cit/v1/dispatch.grpc.pb.h"

namespace cit::ctl {

struct ExportDownload {
  // OK, or the stream's error (or INTERNAL/UNKNOWN-free local errors: see `local_error`).
  grpc::Status status;
  // A local failure (cannot write the file), empty otherwise.
  std::string local_error;
  std::uint64_t bytes = 0;
  std::string media_type;
};

ExportDownload DownloadExport(cit::v1::Audit::StubInterface& audit, grpc::ClientContext& context,
                              const cit::v1::ExportRunRequest& request, const std::string& output);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_EXPORT_DOWNLOAD_H_
