#include "dispatch-server/http/sse_stream.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "dispatch-server/http/status_mapping.h"

namespace cit::dispatch {
namespace {

namespace pb = google::protobuf;

// Query strings carry text; JSON needs numbers and booleans for those field types (int64 and
// enums are accepted as strings by protobuf's JSON parser).
absl::StatusOr<nlohmann::json> QueryValue(const pb::FieldDescriptor* f, const std::string& v) {
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      if (v == "true") return nlohmann::json(true);
      if (v == "false") return nlohmann::json(false);
      return absl::InvalidArgumentError(f->json_name() + " must be true or false");
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT: {
      nlohmann::json j = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
      if (!j.is_number()) {
        return absl::InvalidArgumentError(f->json_name() + " must be a number");
      }
      return j;
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::InvalidArgumentError(f->json_name() +
                                        " is a message and cannot be given in the query string");
    default:
      return nlohmann::json(v);
  }
}

// The field whose JSON name (or proto name) is `name`.
const pb::FieldDescriptor* FieldByJsonName(const pb::Descriptor* type, const std::string& name) {
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    if (f->json_name() == name || f->name() == name) return f;
  }
  return nullptr;
}

class SseForwarder final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                           public std::enable_shared_from_this<SseForwarder> {
 public:
  SseForwarder(GrpcGateway& gateway, const pb::MethodDescriptor* method,
               std::unique_ptr<grpc::ClientContext> context, grpc::ByteBuffer request,
               std::shared_ptr<Exchange> exchange)
      : gateway_(gateway),
        full_method_("/" + method->service()->full_name() + "/" + method->name()),
        response_type_(method->output_type()),
        event_name_(SseEventName(response_type_)),
        context_(std::move(context)),
        request_(std::move(request)),
        exchange_(std::move(exchange)) {}

  void Start() {
    if (!gateway_.calls().Add(context_.get())) {
      exchange_->Reply(JsonError(503, "UNAVAILABLE", "the server is shutting down"));
      return;
    }
    self_ = shared_from_this();
    std::weak_ptr<SseForwarder> weak = self_;
    exchange_->OpenEventStream([weak] {
      if (auto self = weak.lock()) self->context_->TryCancel();
    });
    gateway_.stub().PrepareBidiStreamingCall(context_.get(), full_method_, grpc::StubOptions(),
                                             this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status.
    std::unique_ptr<pb::Message> message = NewMessage(response_type_);
    if (!ParseFromByteBuffer(response_, message.get()) ||
        !exchange_->PushEvent(SseEvent(event_name_, *message))) {
      context_->TryCancel();
      return;
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      nlohmann::json j = {{"code", GrpcCodeName(status.error_code())},
                          {"message", status.error_message()}};
      exchange_->PushEvent(
          fmt::format("event: error\ndata: {}\n\n",
                      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    }
    exchange_->EndEventStream();
    exchange_.reset();
    grpc::ClientContext* context = context_.get();
    std::shared_ptr<SseForwarder> keep = std::move(self_);
    // Last: Stop() may return (and the HTTP server go away) right after.
    gateway_.calls().Remove(context);
  }

 private:
  GrpcGateway& gateway_;
  const std::string full_method_;
  const pb::Descriptor* response_type_;
  const std::string event_name_;
  std::unique_ptr<grpc::ClientContext> context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::shared_ptr<Exchange> exchange_;
  std::shared_ptr<SseForwarder> self_;  // alive until OnDone
};

}  // namespace

absl::StatusOr<std::unique_ptr<pb::Message>> StreamRequestFromQuery(
    const pb::MethodDescriptor* method, std::string_view query,
    std::optional<std::string_view> last_event_id) {
  const pb::Descriptor* type = method->input_type();
  auto params = ParseQuery(query);
  if (!params) return absl::InvalidArgumentError("malformed percent-escape in the query string");
  nlohmann::json j = nlohmann::json::object();
  auto set = [&](const std::string& name, const std::string& value) -> absl::Status {
    const pb::FieldDescriptor* f = FieldByJsonName(type, name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("unknown query parameter \"{}\" for {}", name, type->full_name()));
    }
    absl::StatusOr<nlohmann::json> v = QueryValue(f, value);
    if (!v.ok()) return v.status();
    if (f->is_repeated()) {
      j[f->json_name()].push_back(*v);
    } else {
      j[f->json_name()] = *v;
    }
    return absl::OkStatus();
  };
  for (const auto& [name, value] : *params) {
    if (absl::Status s = set(name, value); !s.ok()) return s;
  }
  if (last_event_id && !last_event_id->empty()) {
    // A resume token (what this server sends as the id) resumes on any instance; a number is
    // an event id from an older server.
    const bool number = last_event_id->find_first_not_of("0123456789") == std::string_view::npos;
    const char* field = number ? "after_event_id" : "resume_token";
    if (type->FindFieldByName(field) != nullptr) {
      if (absl::Status s =
              set(number ? "afterEventId" : "resumeToken", std::string(*last_event_id));
          !s.ok()) {
        return s;
      }
    }
  }
  std::unique_ptr<pb::Message> request = NewMessage(type);
  pb::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  const std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (pb::util::Status s = pb::util::JsonStringToMessage(text, request.get(), parse); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("query parameters do not form a valid {}: {}",
                                                  type->full_name(), std::string(s.message())));
  }
  return request;
}

std::string SseEventName(const pb::Descriptor* type) {
  if (type->full_name() == "cit.v1.AlertEvent") return "alert";
  if (type->full_name() == "cit.v1.VehicleState") return "vehicle";
  return type->name();
}

std::string SseEvent(std::string_view event_name, const pb::Message& message) {
  std::string out;
  const pb::FieldDescriptor* token = message.GetDescriptor()->FindFieldByName("resume_token");
  const pb::FieldDescriptor* id = message.GetDescriptor()->FindFieldByName("event_id");
  if (token != nullptr && token->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING &&
      !token->is_repeated() && !message.GetReflection()->GetString(message, token).empty()) {
    // Tokens are made of digits, dots and dashes: nothing that could end the field.
    out += fmt::format("id: {}\n", message.GetReflection()->GetString(message, token));
  } else if (id != nullptr && id->cpp_type() == pb::FieldDescriptor::CPPTYPE_UINT64 &&
             !id->is_repeated()) {
    out += fmt::format("id: {}\n", message.GetReflection()->GetUInt64(message, id));
  }
  // MessageToJson prints one line, as SSE's data field needs.
  out += fmt::format("event: {}\ndata: {}\n\n", event_name, MessageToJson(message));
  return out;
}

void ForwardServerStream(GrpcGateway& gateway, const pb::MethodDescriptor* method,
                         std::unique_ptr<pb::Message> request, const std::string& bearer_token,
                         std::shared_ptr<Exchange> exchange) {
  auto forwarder =
      std::make_shared<SseForwarder>(gateway, method, gateway.NewContext(bearer_token, true),
                                     SerializeToByteBuffer(*request), std::move(exchange));
  forwarder->Start();
}

}  // namespace cit::dispatch
