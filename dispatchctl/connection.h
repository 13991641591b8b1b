// How dispatchctl reaches dispatch-server's operator API: address, TLS trust, bearer token.
//
//   ConnectionOptions opts;              // filled from flags, CIT_* environment, config file
//   absl::StatusOr<Connection> conn = Connection::Open(opts);
//   grpc::ClientContext ctx;
//   conn->Prepare(ctx);                  // adds "authorization: Bearer <token>" and a deadline
//   conn->alerts().AckAlert(&ctx, req, &alert);
//
// Thread contract: a Connection is shared read-only after Open; stubs are thread-safe.
#ifndef CIT_DISPATCHCTL_CONNECTION_H_
#define CIT_DISPATCHCTL_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.grpc.pb.h"

namespace cit::ctl {

struct ConnectionOptions {
  // host:port of the operator port (dispatch-server's [operator] listen, default port 7444).
  std::string server = "localhost:7444";
  // PEM file of the CA that signed the server certificate; empty = system roots.
  std::string ca_file;
  // TLS name to expect in the server certificate when it differs from the host in `server`.
  std::string server_name;
  // The bearer token itself, or a file holding it (first line). The token wins.
  std::string token;
  std::string token_file;
  // Plain-text connection (no TLS), for local debugging only: the server refuses tokens over it.
  bool insecure = false;
  // Deadline of one unary call.
  std::chrono::milliseconds timeout{10000};
};

class Connection {
 public:
  static absl::StatusOr<Connection> Open(const ConnectionOptions& options);

  // Adds the token and, unless `streaming`, the unary deadline.
  void Prepare(grpc::ClientContext& context, bool streaming = false) const;

  cit::v1::Dispatch::Stub& dispatch() const { return *dispatch_; }
  cit::v1::Alerts::Stub& alerts() const { return *alerts_; }
  cit::v1::Audit::Stub& audit() const { return *audit_; }
  cit::v1::Plans::Stub& plans() const { return *plans_; }

  // AckAlert or ResolveAlert of alert `id` with `comment` (one unary call); the alert after it.
  grpc::Status ActOnAlert(bool resolve, uint64_t id, const std::string& comment,
                          cit::v1::Alert* alert) const;
  const std::string& server() const { return server_; }

 private:
  std::string server_;
  std::string token_;
  std::chrono::milliseconds timeout_{0};
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<cit::v1::Dispatch::Stub> dispatch_;
  std::shared_ptr<cit::v1::Alerts::Stub> alerts_;
  std::shared_ptr<cit::v1::Audit::Stub> audit_;
  std::shared_ptr<cit::v1::Plans::Stub> plans_;
};

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_CONNECTION_H_
