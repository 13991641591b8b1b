#include "dispatch-server/http/http_metrics.h"

#include <string>

namespace cit::dispatch {

HttpMetrics::HttpMetrics(MetricsRegistry& r)
    : signins(&r.GetCounter("cit_http_signins_total", "Browser sign-ins that opened a session")),
      signin_failures(&r.GetCounter("cit_http_signin_failures_total",
                                    "Browser sign-ins refused: wrong or unknown token")),
      signin_throttled(&r.GetCounter("cit_http_signin_throttled_total",
                                     "Browser sign-ins refused with 429 (too many failures)")),
      refused(&r.GetCounter("cit_http_connections_refused_total",
                            "HTTP connections closed at accept: at the cap, none idle")),
      evicted(&r.GetCounter("cit_http_connections_evicted_total",
                            "Idle HTTP connections closed to admit a new one at the cap")),
      timeouts(&r.GetCounter("cit_http_timeouts_total",
                             "HTTP connections closed by a header, body or write deadline")),
      too_large(&r.GetCounter("cit_http_too_large_total",
                              "HTTP requests refused for size (413 body, 431 header)")),
      tls_handshake_failures(
          &r.GetCounter("cit_http_tls_handshake_failures_total",
                        "HTTP connections whose TLS handshake failed (not by timeout)")),
      sse_dropped(&r.GetCounter("cit_http_sse_dropped_total",
                                "Event streams dropped because the reader fell behind")),
      connections(&r.GetGauge("cit_http_connections", "Open HTTP connections")),
      streams(&r.GetGauge("cit_http_event_streams", "Open Server-Sent Event streams")) {
  for (int c = 1; c <= 5; ++c) {
    responses[c] = &r.GetCounter("cit_http_responses_total", "HTTP responses by status class",
                                 {{"class", std::to_string(c) + "xx"}});
  }
}

void HttpMetrics::Response(int status) {
  int c = status / 100;
  if (c >= 1 && c <= 5) responses[c]->Increment();
}

}  // namespace cit::dispatch
