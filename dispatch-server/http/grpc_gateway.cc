#include "dispatch-server/http/grpc_gateway.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/http/status_mapping.h"

namespace cit::dispatch {
namespace {

namespace pb = google::protobuf;

// The operator services the HTTP API exposes (Telemetry stays mTLS-only for vehicles).
constexpr std::string_view kServices[] = {"cit.v1.Dispatch", "cit.v1.Alerts", "cit.v1.Audit"};

absl::StatusOr<std::string> ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One unary call: owns everything gRPC writes into until the completion callback.
struct UnaryCall {
  std::string full_method;
  std::unique_ptr<grpc::ClientContext> context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  const pb::Descriptor* response_type = nullptr;
  std::shared_ptr<Exchange> exchange;
};

HttpResponse UnaryAnswer(const grpc::Status& status, const grpc::ByteBuffer& response,
                         const pb::Descriptor* response_type) {
  if (!status.ok()) return ErrorFromGrpc(status);
  std::unique_ptr<pb::Message> out = NewMessage(response_type);
  if (!ParseFromByteBuffer(response, out.get())) {
    return JsonError(500, "INTERNAL", "unreadable response from the operator service");
  }
  return JsonResponse(200, MessageToJson(*out));
}

}  // namespace

bool CallRegistry::Add(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  calls_.insert(context);
  return true;
}

void CallRegistry::Remove(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.erase(context);
  if (calls_.empty()) cv_.notify_all();
}

void CallRegistry::CancelAllAndWait() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  for (grpc::ClientContext* c : calls_) c->TryCancel();
  cv_.wait(lock, [this] { return calls_.empty(); });
}

grpc::ByteBuffer SerializeToByteBuffer(const pb::Message& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool ParseFromByteBuffer(const grpc::ByteBuffer& buffer, pb::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return message->ParseFromString(bytes);
}

std::unique_ptr<pb::Message> NewMessage(const pb::Descriptor* type) {
  const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(type);
  return std::unique_ptr<pb::Message>(prototype->New());
}

std::string MessageToJson(const pb::Message& message) {
  pb::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  std::string json;
  if (!pb::util::MessageToJsonString(message, &json, o).ok()) return "{}";
  return json;
}

absl::StatusOr<std::unique_ptr<GrpcGateway>> GrpcGateway::Create(const GatewayOptions& options) {
  // Make sure the generated descriptors of dispatch.proto are in the pool (linked in).
  cit::v1::AlertEvent::descriptor();
  std::unique_ptr<GrpcGateway> gw(new GrpcGateway(options));
  grpc::ChannelArguments args;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    absl::StatusOr<std::string> ca = ReadWholeFile(options.ca_file);
    if (!ca.ok()) {
      return absl::Status(ca.status().code(), "http.loopback_ca (default tls.ca): " +
                                                  std::string(ca.status().message()));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *ca;
    creds = grpc::SslCredentials(ssl);
    args.SetSslTargetNameOverride(options.server_name);
  }
  // After a restart of the operator port, reconnect quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  gw->channel_ = grpc::CreateCustomChannel(options.target, creds, args);
  gw->stub_ = std::make_unique<grpc::GenericStub>(gw->channel_);
  return gw;
}

const pb::MethodDescriptor* GrpcGateway::FindMethod(std::string_view service,
                                                    std::string_view method) {
  if (std::find(std::begin(kServices), std::end(kServices), service) == std::end(kServices)) {
    return nullptr;
  }
  const pb::ServiceDescriptor* s =
      pb::DescriptorPool::generated_pool()->FindServiceByName(std::string(service));
  return s == nullptr ? nullptr : s->FindMethodByName(std::string(method));
}

std::unique_ptr<grpc::ClientContext> GrpcGateway::NewContext(const std::string& bearer_token,
                                                             bool streaming) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + bearer_token);
  if (!streaming) context->set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
  return context;
}

void GrpcGateway::CallUnary(const pb::MethodDescriptor* method, const std::string& json,
                            const std::string& bearer_token, std::shared_ptr<Exchange> exchange) {
  std::unique_ptr<pb::Message> request = NewMessage(method->input_type());
  pb::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  const std::string& body = json.empty() ? std::string("{}") : json;
  if (pb::util::Status s = pb::util::JsonStringToMessage(body, request.get(), parse); !s.ok()) {
    exchange->Reply(
        JsonError(400, "INVALID_ARGUMENT",
                  fmt::format("request body is not a valid {} in protobuf's JSON mapping: {}",
                              method->input_type()->full_name(), std::string(s.message()))));
    return;
  }
  auto call = std::make_shared<UnaryCall>();
  call->full_method = "/" + method->service()->full_name() + "/" + method->name();
  call->context = NewContext(bearer_token, /*streaming=*/false);
  call->request = SerializeToByteBuffer(*request);
  call->response_type = method->output_type();
  call->exchange = std::move(exchange);
  if (!calls_.Add(call->context.get())) {
    call->exchange->Reply(JsonError(503, "UNAVAILABLE", "the server is shutting down"));
    return;
  }
  stub_->UnaryCall(call->context.get(), call->full_method, grpc::StubOptions(), &call->request,
                   &call->response, [this, call](grpc::Status status) {
                     std::shared_ptr<Exchange> answer_to = std::move(call->exchange);
                     answer_to->Reply(UnaryAnswer(status, call->response, call->response_type));
                     // Last: Stop() may return (and the HTTP server go away) right after.
                     answer_to.reset();
                     calls_.Remove(call->context.get());
                   });
}

}  // namespace cit::dispatch
