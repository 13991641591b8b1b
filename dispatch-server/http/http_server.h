// The operator HTTP API and web console port of dispatch-server (docs/http-api.md): HTTPS with
// the server's certificate (plain HTTP with insecure_dev), browser sessions, the JSON gateway to
// the operator gRPC services, Server-Sent Event streams and the console's static files.
//
//   HttpServerDeps deps;
//   deps.options = *HttpOptionsFromConfig(cfg.raw, cfg.source, cfg.server.tls.ca_file);
//   deps.tls = cfg.server.tls;
//   deps.operator_target = "127.0.0.1:" + std::to_string(server->operator_port());
//   deps.tokens = tokens;                        // the operator token file
//   deps.metrics = &server->metrics();
//   auto http = HttpServer::Start(std::move(deps));
//   ...
//   (*http)->Stop();                              // before the gRPC server shuts down
//
// Boost.Beast on a small fixed pool of I/O threads; a gRPC call never blocks them (the gateway
// is asynchronous). Limits: header and body size, header/body/write deadlines, a connection cap
// that displaces idle connections first (http_options.h).
//
// Thread contract: Start/Stop/port from one thread; Stop is idempotent and also run by the
// destructor.
#ifndef CIT_DISPATCH_SERVER_HTTP_HTTP_SERVER_H_
#define CIT_DISPATCH_SERVER_HTTP_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/common/tls_files.h"
#include "dispatch-server/http/http_options.h"
#include "dispatch-server/http/session_store.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

struct HttpServerDeps {
  HttpOptions options;
  // Plain HTTP and a plaintext loopback call (the operator port is plaintext too).
  bool insecure_dev = false;
  // The server certificate and key (tls.cert / tls.key).
  TlsFiles tls;
  // The operator gRPC port the gateway calls, "127.0.0.1:<port>".
  std::string operator_target;
  // The operator token file (sign-in checks tokens against it, as the operator port does).
  std::shared_ptr<const TokenFile> tokens;
  // Not owned; must outlive the server.
  MetricsRegistry* metrics = nullptr;
  // Session expiry clock (tests inject one).
  WallClock clock = [] { return std::chrono::system_clock::now(); };
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerDeps deps);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  HttpServer(HttpServer&&) = delete;
  HttpServer& operator=(HttpServer&&) = delete;

  int port() const;
  SessionStore& sessions();
  // Stops accepting, cancels the gateway's gRPC calls (streams end), closes every connection and
  // joins the I/O threads.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "host:port" of a listen address ("0.0.0.0:7444" -> "127.0.0.1:<port>") that reaches the
// server's own operator port over loopback.
std::string LoopbackTarget(const std::string& listen_address, int port);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_HTTP_SERVER_H_
