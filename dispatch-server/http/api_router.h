// Routes one HTTP request (docs/http-api.md):
//   POST/GET/DELETE /api/v1/session     browser sign-in, who am I, sign-out (session_api)
//   GET  /api/v1/config                 console runtime settings (no session needed)
//   POST /api/v1/<service>/<Method>     unary operator RPCs through the JSON gateway
//   GET  /api/v1/<service>/<Method>     server-streaming RPCs as Server-Sent Events, except
//                                       StreamExport: the document as a chunked download
//   GET  anything else                  the console's static files
// and enforces the session cookie (401) and, on state-changing requests, the CSRF header (403)
// before anything reaches the gateway.
//
//   ApiRouter router(deps);
//   router.Handle(std::move(request), exchange);   // answers through `exchange`, maybe later
//
// Thread contract: thread-safe; Handle never blocks on I/O other than reading a static file.
#ifndef CIT_DISPATCH_SERVER_HTTP_API_ROUTER_H_
#define CIT_DISPATCH_SERVER_HTTP_API_ROUTER_H_

#include <memory>
#include <string_view>

#include "dispatch-server/auth/roles.h"
#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/http/exchange.h"
#include "dispatch-server/http/grpc_gateway.h"
#include "dispatch-server/http/http_metrics.h"
#include "dispatch-server/http/http_options.h"
#include "dispatch-server/http/session_store.h"
#include "dispatch-server/http/signin_limiter.h"
#include "dispatch-server/http/static_files.h"

namespace cit::dispatch {

class ApiRouter {
 public:
  struct Deps {
    const HttpOptions* options;
    // Plain HTTP (no Secure cookie attribute) and a plaintext operator port: the operator port
    // then checks no roles, so the router checks the same PermissionTable itself.
    bool insecure = false;
    std::shared_ptr<const TokenFile> tokens;  // the operator token file
    GrpcGateway* gateway;
    SessionStore* sessions;
    SigninLimiter* signin_limiter;
    HttpMetrics* metrics;
  };

  explicit ApiRouter(Deps deps);

  void Handle(HttpRequest request, std::shared_ptr<Exchange> exchange);
  // The body limit for a request to `path` (plans may be larger than other requests).
  std::size_t BodyLimitFor(std::string_view path) const;

 private:
  HttpResponse Signin(const HttpRequest& request);
  HttpResponse SessionJson(const Session& session) const;
  std::string SessionCookie(const std::string& value, long max_age_s) const;
  void Rpc(const HttpRequest& request, const Session& session, std::string_view service,
           std::string_view method, std::shared_ptr<Exchange> exchange);

  Deps deps_;
  StaticFiles files_;
  PermissionTable permissions_ = PermissionTable::Default();
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_API_ROUTER_H_
