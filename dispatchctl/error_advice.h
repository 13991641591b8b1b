// What to do next after a failed call: one sentence for the operator under gRPC's own message.
//
//   std::cerr << "dispatchctl: ack: " << status.error_message() << "\n"
//             << AdviceFor(status, "localhost:7444");
//
// Thread contract: pure function.
#ifndef CIT_DISPATCHCTL_ERROR_ADVICE_H_
#define CIT_DISPATCHCTL_ERROR_ADVICE_H_

#include <grpcpp/support/status.h>

#include <string>

namespace cit::ctl {

// "" when gRPC's message says enough (NOT_FOUND, INVALID_ARGUMENT: the server's own words);
// otherwise lines starting with "  -> ", each ending in '\n'.
std::string AdviceFor(const grpc::Status& status, const std::string& server);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_ERROR_ADVICE_H_
