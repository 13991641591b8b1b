// The JSON gateway: HTTP requests become real gRPC calls on the server's own operator port, so
// the HTTP API has no model, role check or validation of its own (docs/http-api.md).
//
//   POST /api/v1/cit.v1.Alerts/AckAlert  {"alertId":"42","comment":"on it"}
//     -> descriptor pool: cit.v1.Alerts.AckAlert, request type cit.v1.AckAlertRequest
//     -> JSON parsed into it (protobuf's JSON mapping, unknown fields refused)
//     -> gRPC call /cit.v1.Alerts/AckAlert to 127.0.0.1:<operator port> with the session's
//        "authorization: Bearer <token>" (so the operator port authenticates, checks the role
//        and records the operator's name exactly as for dispatchctl)
//     -> response printed as JSON (all fields, lowerCamelCase, enums by name); the gRPC status
//        mapped to HTTP (status_mapping.h).
//
//   auto gw = GrpcGateway::Create({.target = "127.0.0.1:7444", ...});
//   const MethodDescriptor* m = (*gw)->FindMethod("cit.v1.Alerts", "AckAlert");
//   (*gw)->CallUnary(m, body, session.bearer_token, exchange);   // returns at once
//
// Calls are asynchronous (gRPC's callback API): the answer reaches the Exchange from a gRPC
// thread. Every call in flight is registered so Stop() can cancel them and wait for their
// completions before the HTTP server goes away.
//
// Thread contract: thread-safe.
#ifndef CIT_DISPATCH_SERVER_HTTP_GRPC_GATEWAY_H_
#define CIT_DISPATCH_SERVER_HTTP_GRPC_GATEWAY_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "dispatch-server/http/exchange.h"

namespace cit::dispatch {

struct GatewayOptions {
  // The operator port, e.g. "127.0.0.1:7444".
  std::string target;
  // Plaintext (the server runs with insecure_dev).
  bool insecure = false;
  // CA that signed the server certificate, and the name the certificate carries.
  std::filesystem::path ca_file;
  std::string server_name = "localhost";
  std::chrono::seconds call_timeout{30};
};

// Calls in flight, for cancellation at shutdown.
class CallRegistry {
 public:
  // False once CancelAllAndWait has started: the call must not be started.
  bool Add(grpc::ClientContext* context);
  void Remove(grpc::ClientContext* context);
  // Cancels every registered call and waits until each has been removed.
  void CancelAllAndWait();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<grpc::ClientContext*> calls_;  // guarded by mu_
  bool stopping_ = false;                 // guarded by mu_
};

class GrpcGateway {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcGateway>> Create(const GatewayOptions& options);

  // The method `service`/`method` if `service` is one of the operator services (cit.v1.Dispatch,
  // cit.v1.Alerts, cit.v1.Audit), else nullptr.
  static const google::protobuf::MethodDescriptor* FindMethod(std::string_view service,
                                                              std::string_view method);

  // Parses `json` into the method's request type and forwards it; the answer (or the 400 for
  // bad JSON) goes to `exchange`. The method must be unary.
  void CallUnary(const google::protobuf::MethodDescriptor* method, const std::string& json,
                 const std::string& bearer_token, std::shared_ptr<Exchange> exchange);

  // A ready ClientContext for a call on behalf of `bearer_token` (streams set no deadline).
  std::unique_ptr<grpc::ClientContext> NewContext(const std::string& bearer_token,
                                                  bool streaming) const;
  grpc::GenericStub& stub() { return *stub_; }
  CallRegistry& calls() { return calls_; }

  // Cancels every call in flight and waits for their completions; later calls are refused.
  void Stop() { calls_.CancelAllAndWait(); }

 private:
  explicit GrpcGateway(const GatewayOptions& options) : options_(options) {}

  GatewayOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  CallRegistry calls_;
};

// Protobuf <-> gRPC byte buffers.
grpc::ByteBuffer SerializeToByteBuffer(const google::protobuf::Message& message);
bool ParseFromByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);
// A new, empty message of this type (from the generated pool).
std::unique_ptr<google::protobuf::Message> NewMessage(const google::protobuf::Descriptor* type);
// Protobuf's JSON mapping, every field printed.
std::string MessageToJson(const google::protobuf::Message& message);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_GRPC_GATEWAY_H_
