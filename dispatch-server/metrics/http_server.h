// The metrics port: prometheus-cpp's pull Exposer (civetweb underneath) serving GET /metrics in
// the Prometheus text format, plus GET /healthz: 200 "ok", or 503 with the reason while the
// server is draining or a health check fails (see SetHealthCheck).
//
//   MetricsHttpServer http(registry, {.threads = 4, .request_timeout = 5s});
//   absl::Status s = http.Start("127.0.0.1:9464");   // port 0 picks a free port
//   int port = http.port();
//   ...
//   http.Stop();
//
// Bounded by construction: at most `threads` connections are served at once, at most `queue`
// more wait in the process (the rest wait in the kernel's listen backlog, costing no file
// descriptor), every request must arrive and be answered within `request_timeout`, and there is
// no keep-alive, so no client can hold a connection (or a thread) open without limit.
//
// Thread contract: Start/Stop from one owner thread; requests are served on civetweb's worker
// threads. SetHealthy and SetHealthCheck may be called from any thread.
#ifndef CIT_DISPATCH_METRICS_HTTP_SERVER_H_
#define CIT_DISPATCH_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

struct MetricsHttpOptions {
  // Worker threads: connections served at the same time.
  int threads = 4;
  // Accepted connections waiting for a worker; more wait unaccepted in the kernel backlog.
  int queue = 16;
  // A request must be received (and its answer sent) within this; slower clients are dropped.
  std::chrono::milliseconds request_timeout{5'000};
};

class MetricsHttpServer {
 public:
  MetricsHttpServer(std::shared_ptr<const MetricsRegistry> registry,
                    MetricsHttpOptions options = {});
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  MetricsHttpServer(MetricsHttpServer&&) = delete;
  MetricsHttpServer& operator=(MetricsHttpServer&&) = delete;

  // `address` is "host:port" (IPv4 or [IPv6]).
  absl::Status Start(const std::string& address);
  void Stop();
  int port() const { return port_; }
  // false while draining: /healthz answers 503 "draining".
  void SetHealthy(bool healthy) { healthy_.store(healthy); }
  // Consulted on every /healthz; a non-OK status answers 503 with its message.
  void SetHealthCheck(std::function<absl::Status()> check);

  // What /healthz answers now: OK, or the reason it is not.
  absl::Status Health() const;

 private:
  struct Impl;
  std::shared_ptr<const MetricsRegistry> registry_;
  MetricsHttpOptions options_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<bool> healthy_{true};
  mutable std::mutex check_mu_;
  std::function<absl::Status()> check_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_METRICS_HTTP_SERVER_H_
