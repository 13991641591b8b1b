// Metrics of the HTTP API (docs/http-api.md lists them), registered once per server.
//
//   HttpMetrics m(registry);
//   m.Response(404);  m.refused->Increment();
//
// Thread contract: thread-safe (atomic counters).
#ifndef CIT_DISPATCH_SERVER_HTTP_HTTP_METRICS_H_
#define CIT_DISPATCH_SERVER_HTTP_HTTP_METRICS_H_

#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

struct HttpMetrics {
  explicit HttpMetrics(MetricsRegistry& r);

  // Counts one response by status class ("2xx".."5xx").
  void Response(int status);

  Counter* responses[6] = {};  // cit_http_responses_total{class}
  Counter* signins;            // cit_http_signins_total
  Counter* signin_failures;    // cit_http_signin_failures_total
  Counter* signin_throttled;   // cit_http_signin_throttled_total
  Counter* refused;            // cit_http_connections_refused_total (cap, nobody idle)
  Counter* evicted;            // cit_http_connections_evicted_total (idle, for a new one)
  Counter* timeouts;           // cit_http_timeouts_total (header/body/write deadline)
  Counter* too_large;          // cit_http_too_large_total (413 / 431)
  // cit_http_tls_handshake_failures_total (not by timeout or eviction)
  Counter* tls_handshake_failures;
  Counter* sse_dropped;  // cit_http_sse_dropped_total (slow reader)
  Gauge* connections;    // cit_http_connections
  Gauge* streams;        // cit_http_event_streams
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_HTTP_METRICS_H_
