// StreamExport over HTTP as the document itself: a file download of any length.
//
//   GET /api/v1/cit.v1.Audit/StreamExport?runId=RUN-7&format=EXPORT_FORMAT_CSV
//     -> a gRPC StreamExport to the operator port with the session's token (role checked there)
//     -> "200 OK", Content-Type: <media_type>, Content-Disposition: attachment;
//        filename="<suggested_file_name>", Transfer-Encoding: chunked; each ExportRunResponse's
//        content becomes one chunk.
//
// Flow control end to end: the next message is read from the gRPC stream only once the previous
// chunk has been written to the browser's connection, and the server makes the next part only
// once gRPC took the previous one, so the server holds about one part (512 KiB) per download
// whatever the run's length. An error before the first part is an ordinary JSON error (404 for
// an unknown run, 429 when the server runs its most streams, ...); an error after it closes the
// connection without the last chunk, so the client sees a truncated transfer, never a short
// document that looks whole. A client that goes away cancels the gRPC call.
//
//   if (IsDownloadMethod(method)) ForwardDownload(gateway, method, std::move(request), token, ex);
//
// Thread contract: functions are thread-safe; the forwarder lives on gRPC's and the
// connection's threads.
#ifndef CIT_DISPATCH_SERVER_HTTP_DOWNLOAD_STREAM_H_
#define CIT_DISPATCH_SERVER_HTTP_DOWNLOAD_STREAM_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <string_view>

#include "dispatch-server/http/exchange.h"
#include "dispatch-server/http/grpc_gateway.h"

namespace cit::dispatch {

// True for server-streaming methods whose messages are parts of one document
// (cit.v1.ExportRunResponse).
bool IsDownloadMethod(const google::protobuf::MethodDescriptor* method);

// `name` reduced to characters safe in a Content-Disposition filename ("export" when empty).
std::string SafeFileName(std::string_view name);

void ForwardDownload(GrpcGateway& gateway, const google::protobuf::MethodDescriptor* method,
                     std::unique_ptr<google::protobuf::Message> request,
                     const std::string& bearer_token, std::shared_ptr<Exchange> exchange);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_DOWNLOAD_STREAM_H_
