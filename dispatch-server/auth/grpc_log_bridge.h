// gRPC core's own log lines, routed into spdlog, with TLS handshake failures counted.
//
// gRPC 1.51 has no C++ hook for a failed TLS handshake on a server port: the handshake ends
// before any call exists, so neither an AuthMetadataProcessor, an interceptor nor a service
// sees it. What gRPC does do is write one ERROR line per failure through gpr_log
// ("Handshake failed with fatal error SSL_ERROR_SSL: ... certificate verify failed"), by
// default straight to stderr, unformatted and unlimited: 2,000 foreign-certificate connections
// wrote 2,000 lines. gpr_set_log_function (public C API) lets the process take those lines:
//  - lines starting "Handshake failed" count in cit_tls_handshake_failures_total and are
//    logged rate-limited (RefusalLog, reason tls_handshake_failed);
//  - every other gRPC line goes to spdlog at its severity (event=grpc_log).
// The count depends on gRPC's message text; tests/ctl/operator_auth_test.cc pins it.
//
//   InstallGrpcLogBridge(builder.shared_metrics());   // once, at start-up
//
// Thread contract: gRPC calls the bridge from any of its threads; installing it again replaces
// the previous registry (process-wide, like gRPC's log function itself).
#ifndef CIT_DISPATCH_AUTH_GRPC_LOG_BRIDGE_H_
#define CIT_DISPATCH_AUTH_GRPC_LOG_BRIDGE_H_

#include <memory>

#include "dispatch-server/common/refusal_log.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

void InstallGrpcLogBridge(std::shared_ptr<MetricsRegistry> metrics,
                          RefusalLogOptions log_options = {});

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_AUTH_GRPC_LOG_BRIDGE_H_
