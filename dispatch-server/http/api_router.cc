#include "dispatch-server/http/api_router.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "dispatch-server/http/download_stream.h"
#include "dispatch-server/http/random_token.h"
#include "dispatch-server/http/sse_stream.h"

namespace cit::dispatch {
namespace {

constexpr std::string_view kApiPrefix = "/api/v1/";
constexpr std::string_view kCookie = "cit_session";

HttpResponse Unauthenticated() {
  return JsonError(401, "UNAUTHENTICATED", "no valid session: sign in with POST /api/v1/session");
}

bool ChangesState(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "DELETE" || method == "PATCH";
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  return google::protobuf::util::TimeUtil::ToString(
      google::protobuf::util::TimeUtil::TimeTToTimestamp(std::chrono::system_clock::to_time_t(t)));
}

}  // namespace

ApiRouter::ApiRouter(Deps deps) : deps_(std::move(deps)), files_(deps_.options->assets_dir) {}

std::size_t ApiRouter::BodyLimitFor(std::string_view path) const {
  if (path == "/api/v1/cit.v1.Dispatch/CreateRun" || path == "/api/v1/cit.v1.Dispatch/UpdateRun") {
    return deps_.options->max_plan_body_bytes;
  }
  return deps_.options->max_body_bytes;
}

std::string ApiRouter::SessionCookie(const std::string& value, long max_age_s) const {
  return fmt::format("{}={}; HttpOnly;{} SameSite=Strict; Path=/; Max-Age={}", kCookie, value,
                     deps_.insecure ? "" : " Secure;", max_age_s);
}

HttpResponse ApiRouter::SessionJson(const Session& s) const {
  nlohmann::json j = {{"name", s.identity.name},
                      {"role", RoleName(s.identity.role)},
                      {"csrfToken", s.csrf_token},
                      {"expiresTime", Rfc3339(s.expires)}};
  return JsonResponse(200, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse ApiRouter::Signin(const HttpRequest& request) {
  const std::string& client = request.client_address;
  if (auto wait = deps_.signin_limiter->RetryAfter(client)) {
    deps_.metrics->signin_throttled->Increment();
    HttpResponse r = JsonError(
        429, "RESOURCE_EXHAUSTED",
        fmt::format("too many failed sign-ins from this address; retry in {} s", wait->count()));
    r.headers.emplace_back("Retry-After", std::to_string(wait->count()));
    return r;
  }
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || body.size() != 1 || !body.contains("token") ||
      !body["token"].is_string()) {
    return JsonError(400, "INVALID_ARGUMENT",
                     "body must be a JSON object with exactly one field: {\"token\": \"...\"}");
  }
  std::string token = body["token"].get<std::string>();
  std::optional<OperatorIdentity> who =
      deps_.tokens ? deps_.tokens->Authenticate(token) : std::nullopt;
  if (!who) {
    deps_.signin_limiter->RecordFailure(client);
    deps_.metrics->signin_failures->Increment();
    return JsonError(401, "UNAUTHENTICATED", "unknown token");
  }
  deps_.signin_limiter->RecordSuccess(client);
  absl::StatusOr<Session> s = deps_.sessions->Create(std::move(token), *who);
  if (!s.ok()) return JsonError(503, "UNAVAILABLE", std::string(s.status().message()));
  deps_.metrics->signins->Increment();
  spdlog::info("event=http_signin name={} role={} client={}", who->name, RoleName(who->role),
               client);
  HttpResponse r = SessionJson(*s);
  r.headers.emplace_back("Set-Cookie", SessionCookie(s->id, deps_.sessions->ttl().count()));
  return r;
}

void ApiRouter::Handle(HttpRequest request, std::shared_ptr<Exchange> exchange) {
  const std::string_view path = request.path();
  const std::string& verb = request.method;
  if (path.substr(0, 5) != "/api/") {
    if (verb != "GET") {
      exchange->Reply(JsonError(405, "INVALID_ARGUMENT", "only GET is served outside /api"));
      return;
    }
    exchange->Reply(files_.Serve(path));
    return;
  }
  if (path.substr(0, kApiPrefix.size()) != kApiPrefix) {
    exchange->Reply(JsonError(404, "NOT_FOUND", "unknown API path; the API is under /api/v1/"));
    return;
  }
  const std::string_view rest = path.substr(kApiPrefix.size());
  if (rest == "config" && verb == "GET") {
    nlohmann::json j = {{"tileUrl", deps_.options->tile_url},
                        {"tileAttribution", deps_.options->tile_attribution},
                        {"serverName", deps_.options->server_name}};
    exchange->Reply(
        JsonResponse(200, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    return;
  }
  if (rest == "session" && verb == "POST") {
    exchange->Reply(Signin(request));
    return;
  }
  // Everything else needs a live session, and a CSRF token when it changes state.
  std::optional<std::string> cookie = request.Cookie(kCookie);
  std::optional<Session> session = cookie ? deps_.sessions->Find(*cookie) : std::nullopt;
  if (!session) {
    exchange->Reply(Unauthenticated());
    return;
  }
  if (ChangesState(verb)) {
    std::optional<std::string_view> csrf = request.Header("X-CSRF-Token");
    if (!csrf || !SecretEquals(*csrf, session->csrf_token)) {
      exchange->Reply(JsonError(403, "PERMISSION_DENIED", "missing or wrong CSRF token"));
      return;
    }
  }
  if (rest == "session") {
    if (verb == "GET") {
      exchange->Reply(SessionJson(*session));
    } else if (verb == "DELETE") {
      deps_.sessions->Erase(session->id);
      spdlog::info("event=http_signout name={}", session->identity.name);
      HttpResponse r;
      r.status = 204;
      r.headers.emplace_back("Set-Cookie", SessionCookie("", 0));
      exchange->Reply(std::move(r));
    } else {
      exchange->Reply(JsonError(405, "INVALID_ARGUMENT", "use POST, GET or DELETE"));
    }
    return;
  }
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos) {
    exchange->Reply(JsonError(404, "NOT_FOUND", "unknown API path"));
    return;
  }
  Rpc(request, *session, rest.substr(0, slash), rest.substr(slash + 1), std::move(exchange));
}

void ApiRouter::Rpc(const HttpRequest& request, const Session& session, std::string_view service,
                    std::string_view method, std::shared_ptr<Exchange> exchange) {
  const google::protobuf::MethodDescriptor* m = GrpcGateway::FindMethod(service, method);
  if (m == nullptr || m->client_streaming()) {
    exchange->Reply(JsonError(
        404, "NOT_FOUND",
        fmt::format("no method {}/{} (services: cit.v1.Dispatch, cit.v1.Alerts, cit.v1.Audit)",
                    service, method)));
    return;
  }
  const std::string full_method = fmt::format("/{}/{}", service, method);
  if (deps_.insecure && !permissions_.Allows(full_method, session.identity.role)) {
    exchange->Reply(JsonError(
        403, "PERMISSION_DENIED",
        fmt::format("role {} may not call {}", RoleName(session.identity.role), full_method)));
    return;
  }
  if (m->server_streaming()) {
    if (request.method != "GET") {
      exchange->Reply(JsonError(
          405, "INVALID_ARGUMENT",
          "streams are read with GET (Server-Sent Events, or the document for StreamExport)"));
      return;
    }
    auto stream_request =
        StreamRequestFromQuery(m, request.query(), request.Header("Last-Event-ID"));
    if (!stream_request.ok()) {
      exchange->Reply(
          JsonError(400, "INVALID_ARGUMENT", std::string(stream_request.status().message())));
      return;
    }
    if (IsDownloadMethod(m)) {
      // A document, not events: streamed to the browser as a chunked file download.
      ForwardDownload(*deps_.gateway, m, std::move(*stream_request), session.bearer_token,
                      std::move(exchange));
      return;
    }
    ForwardServerStream(*deps_.gateway, m, std::move(*stream_request), session.bearer_token,
                        std::move(exchange));
    return;
  }
  if (request.method != "POST") {
    exchange->Reply(
        JsonError(405, "INVALID_ARGUMENT", "unary methods are called with POST and a JSON body"));
    return;
  }
  deps_.gateway->CallUnary(m, request.body, session.bearer_token, std::move(exchange));
}

}  // namespace cit::dispatch
