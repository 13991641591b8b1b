// The one seam through which the Dispatch and Alerts services learn who is calling: the actor
// recorded on run changes and alert acknowledgements / resolutions. Backed by the operator
// auth layer (auth/operator_auth.h: the call's own bearer token); "anonymous" on an insecure
// development port.
//
//   run_manager.Dispatch(run_id, ActorOf(*context));
//
// Thread contract: pure function of the call's context.
#ifndef CIT_DISPATCH_SERVER_API_OPERATOR_IDENTITY_H_
#define CIT_DISPATCH_SERVER_API_OPERATOR_IDENTITY_H_

#include <grpcpp/server_context.h>

#include <string>

namespace cit::dispatch {

std::string ActorOf(const grpc::ServerContextBase& context);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_API_OPERATOR_IDENTITY_H_
