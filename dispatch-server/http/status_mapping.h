// gRPC status -> HTTP status and error body, as docs/http-api.md lists them
// (INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404,
// OUT_OF_RANGE 400, ALREADY_EXISTS / FAILED_PRECONDITION / ABORTED 409, RESOURCE_EXHAUSTED 429,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, others 500).
//
//   HttpResponse r = ErrorFromGrpc(status);
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_HTTP_STATUS_MAPPING_H_
#define CIT_DISPATCH_SERVER_HTTP_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include <string_view>

#include "dispatch-server/http/http_message.h"

namespace cit::dispatch {

int HttpStatusFromGrpc(grpc::StatusCode code);
// "PERMISSION_DENIED" etc.
std::string_view GrpcCodeName(grpc::StatusCode code);
HttpResponse ErrorFromGrpc(const grpc::Status& status);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_STATUS_MAPPING_H_
