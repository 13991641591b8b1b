// Server-streaming operator RPCs (WatchAlerts, WatchFleet) as Server-Sent Events.
//
//   GET /api/v1/cit.v1.Alerts/WatchAlerts?minSeverity=SEVERITY_HIGH&vehicleIds=V1
//   Last-Event-ID: w1.41.20001-20003
//     -> WatchAlertsRequest{min_severity: HIGH, vehicle_ids: [V1], resume_token: "w1.41..."}
//     -> a gRPC stream to the operator port with the session's token; every message becomes
//        "id: <resume_token>\nevent: alert\ndata: <JSON>\n\n" as it arrives (id: the
//        event_id for a message without a token).
//
// Query parameters are the request's fields by their JSON names (repeat a parameter for a
// repeated field); `Last-Event-ID` (what EventSource sends on reconnect) sets resume_token, or
// after_event_id when it is a number (an id from an older server).
// Unknown parameters are refused (400), like unknown JSON fields.
//
//   auto request = StreamRequestFromQuery(method, req.query(), req.Header("Last-Event-ID"));
//   ForwardServerStream(gateway, method, std::move(*request), token, exchange);
//
// When the browser goes away (or reads too slowly and is dropped) the gRPC call is cancelled;
// when the gRPC stream ends with an error, an "event: error" with {"code","message"} is sent
// before the HTTP stream closes.
//
// Thread contract: functions are thread-safe; the forwarder lives on gRPC's threads.
#ifndef CIT_DISPATCH_SERVER_HTTP_SSE_STREAM_H_
#define CIT_DISPATCH_SERVER_HTTP_SSE_STREAM_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dispatch-server/http/exchange.h"
#include "dispatch-server/http/grpc_gateway.h"

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<google::protobuf::Message>> StreamRequestFromQuery(
    const google::protobuf::MethodDescriptor* method, std::string_view query,
    std::optional<std::string_view> last_event_id);

// One SSE event for `message`: its event_id field (if the type has one) becomes the SSE id.
std::string SseEvent(std::string_view event_name, const google::protobuf::Message& message);

// "alert" for AlertEvent, "vehicle" for VehicleState, else the message's type name.
std::string SseEventName(const google::protobuf::Descriptor* type);

void ForwardServerStream(GrpcGateway& gateway, const google::protobuf::MethodDescriptor* method,
                         std::unique_ptr<google::protobuf::Message> request,
                         const std::string& bearer_token, std::shared_ptr<Exchange> exchange);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_SSE_STREAM_H_
