// A minimal HTTP/1.1 responder (Boost.Asio) for the metrics port: GET /metrics returns the
// registry in Prometheus text format, GET /healthz returns "ok" (or 503 while draining).
// Anything else is 404; one request per connection (Connection: close).
//
//   MetricsHttpServer http(&registry);
//   absl::Status s = http.Start("127.0.0.1:9464");   // port 0 picks a free port
//   int port = http.port();
//   ...
//   http.Stop();
//
// Thread contract: Start/Stop from one owner thread; requests are served on the server's own
// thread. SetHealthy may be called from any thread.
#ifndef CIT_DISPATCH_METRICS_HTTP_SERVER_H_
#define CIT_DISPATCH_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(const MetricsRegistry* registry);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  MetricsHttpServer(MetricsHttpServer&&) = delete;
  MetricsHttpServer& operator=(MetricsHttpServer&&) = delete;

  // `address` is "host:port" (IPv4 or [IPv6]).
  absl::Status Start(const std::string& address);
  void Stop();
  int port() const { return port_; }
  void SetHealthy(bool healthy) { healthy_.store(healthy); }

 private:
  struct Impl;
  const MetricsRegistry* registry_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> healthy_{true};
};

// Splits "host:port" / "[v6]:port"; false when malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_METRICS_HTTP_SERVER_H_
