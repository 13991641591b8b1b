// Settings of the operator HTTP API and web console port ([http] in dispatch-server.toml;
// http_config.h parses them, docs/http-api.md explains them).
//
//   HttpOptions o;                         // defaults: HTTPS on 127.0.0.1:7445
//   o.assets_dir = "/usr/share/citwatch/console";
//   auto http = HttpServer::Start(o, ...);
//
// Thread contract: plain value.
#ifndef CIT_DISPATCH_SERVER_HTTP_HTTP_OPTIONS_H_
#define CIT_DISPATCH_SERVER_HTTP_HTTP_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>

namespace cit::dispatch {

struct HttpOptions {
  // "host:port"; "" disables the HTTP port; port 0 picks a free one (HttpServer::port()).
  std::string listen = "127.0.0.1:7445";
  // Built console (index.html, assets/...). Empty: only /api is served.
  std::filesystem::path assets_dir;
  // Basemap tile URL template for the console ("https://tiles.example/{z}/{x}/{y}.png"); its
  // origin is added to the CSP img-src. Empty: no basemap, nothing leaves the control room.
  std::string tile_url;
  std::string tile_attribution;
  // Shown by the console (GET /api/v1/config).
  std::string server_name = "citwatch";

  // Browser sessions: absolute lifetime (a 12 h shift) and idle timeout.
  std::chrono::seconds session_ttl{43200};
  std::chrono::seconds session_idle{3600};
  // At most this many live sessions; sign-in beyond: 503 (expired ones are swept first).
  std::size_t max_sessions = 10000;
  // Failed sign-ins per client address before it must wait signin_block (429 Retry-After).
  int signin_max_failures = 5;
  std::chrono::seconds signin_window{60};

  // Request limits. Plans (CreateRun/UpdateRun) carry routes and may be larger.
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_plan_body_bytes = 8 << 20;
  // A request's header must arrive within header_timeout after the connection is opened or the
  // previous response was sent (covers idle keep-alive and slow-loris), its body within
  // body_timeout, and each response write within write_timeout.
  std::chrono::seconds header_timeout{15};
  std::chrono::seconds body_timeout{30};
  std::chrono::seconds write_timeout{30};
  // Open connections at most; at the cap the longest-idle connection (waiting for a request) is
  // closed for a new one, or the new one is refused when none is idle.
  int max_connections = 512;
  // Beast I/O threads (they never block on a gRPC call).
  int threads = 2;

  // Server-Sent Events: comment line every keepalive; a stream whose unsent events exceed
  // sse_max_queued_bytes (a reader slower than the events) is dropped; EventSource reconnects
  // and resumes by event id.
  std::chrono::seconds sse_keepalive{15};
  std::size_t sse_max_queued_bytes = 4 << 20;

  // The gateway's own gRPC client to the operator port over loopback: CA to trust (default
  // tls.ca), the name the server certificate carries, and the per-call deadline.
  std::filesystem::path loopback_ca;
  std::string loopback_name = "localhost";
  std::chrono::seconds call_timeout{30};
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_HTTP_OPTIONS_H_
