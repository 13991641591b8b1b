// One HTTP/1.1 connection (Boost.Beast), plain or TLS: reads a request under the header and
// body deadlines and size limits, hands it to the ApiRouter, writes the answer when it comes
// (posted to the connection's strand from any thread), and carries Server-Sent Event streams
// with a bounded write queue. Internal to HttpServer.
//
//   StartConnection(std::move(socket), tls_context_or_null, shared);
//
// Thread contract: each connection runs on its own strand; its Exchange methods may be called
// from any thread.
#ifndef CIT_DISPATCH_SERVER_HTTP_CONNECTION_H_
#define CIT_DISPATCH_SERVER_HTTP_CONNECTION_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "dispatch-server/http/api_router.h"
#include "dispatch-server/http/connection_tracker.h"
#include "dispatch-server/http/http_metrics.h"
#include "dispatch-server/http/http_options.h"
#include "dispatch-server/http/security_headers.h"

namespace cit::dispatch::http_internal {

// What every connection of one server shares; outlives them all.
struct ConnectionShared {
  const HttpOptions* options;
  ApiRouter* router;
  const SecurityHeaders* headers;
  HttpMetrics* metrics;
  ConnectionTracker* tracker;
};

// `tls` null: plain HTTP. The socket must be bound to a strand executor.
void StartConnection(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls,
                     ConnectionShared& shared);

}  // namespace cit::dispatch::http_internal

#endif  // CIT_DISPATCH_SERVER_HTTP_CONNECTION_H_
