#include "dispatch-server/api/operator_identity.h"

#include "dispatch-server/auth/operator_auth.h"

namespace cit::dispatch {

std::string ActorOf(const grpc::ServerContextBase& context) { return ActorName(context); }

}  // namespace cit::dispatch
