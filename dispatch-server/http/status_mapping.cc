#include "dispatch-server/http/status_mapping.h"

#include "absl/status/status.h"

namespace cit::dispatch {

int HttpStatusFromGrpc(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

std::string_view GrpcCodeName(grpc::StatusCode code) {
  // absl and gRPC share the canonical code numbers.
  static const std::string kNames[] = {
      absl::StatusCodeToString(absl::StatusCode::kOk),
      absl::StatusCodeToString(absl::StatusCode::kCancelled),
      absl::StatusCodeToString(absl::StatusCode::kUnknown),
      absl::StatusCodeToString(absl::StatusCode::kInvalidArgument),
      absl::StatusCodeToString(absl::StatusCode::kDeadlineExceeded),
      absl::StatusCodeToString(absl::StatusCode::kNotFound),
      absl::StatusCodeToString(absl::StatusCode::kAlreadyExists),
      absl::StatusCodeToString(absl::StatusCode::kPermissionDenied),
      absl::StatusCodeToString(absl::StatusCode::kResourceExhausted),
      absl::StatusCodeToString(absl::StatusCode::kFailedPrecondition),
      absl::StatusCodeToString(absl::StatusCode::kAborted),
      absl::StatusCodeToString(absl::StatusCode::kOutOfRange),
      absl::StatusCodeToString(absl::StatusCode::kUnimplemented),
      absl::StatusCodeToString(absl::StatusCode::kInternal),
      absl::StatusCodeToString(absl::StatusCode::kUnavailable),
      absl::StatusCodeToString(absl::StatusCode::kDataLoss),
      absl::StatusCodeToString(absl::StatusCode::kUnauthenticated),
  };
  int i = static_cast<int>(code);
  if (i < 0 || i >= static_cast<int>(std::size(kNames))) return "UNKNOWN";
  return kNames[i];
}

HttpResponse ErrorFromGrpc(const grpc::Status& status) {
  return JsonError(HttpStatusFromGrpc(status.error_code()), GrpcCodeName(status.error_code()),
                   status.error_message());
}

}  // namespace cit::dispatch
