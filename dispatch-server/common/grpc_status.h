// The one mapping between absl::Status and grpc::Status at RPC boundaries (STYLE §9). The
// canonical codes are numerically identical, so the mapping keeps code and message.
//
//   grpc::Status Rpc(...) { return cit::dispatch::ToGrpcStatus(DoWork()); }
//   absl::Status s = cit::dispatch::FromGrpcStatus(stub->Call(&ctx, req, &resp));
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_COMMON_GRPC_STATUS_H_
#define CIT_DISPATCH_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace cit::dispatch {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_COMMON_GRPC_STATUS_H_
