// Checks dispatchctl's connection settings before anything is sent, so that a wrong address,
// timeout or credential file gets an error that says what to do instead of a gRPC log line.
//
//   absl::Status s = CheckServerAddress("http://dispatch:7444");  // kInvalidArgument, says how
//   absl::StatusOr<std::string> token = ReadTokenFile(path);      // kUnauthenticated on failure
//
// Status codes: kInvalidArgument for a setting that is wrong (exit 2), kUnauthenticated for a
// missing or unreadable token (exit 4). Thread contract: free functions, no state.
#ifndef CIT_DISPATCHCTL_CONNECTION_CHECK_H_
#define CIT_DISPATCHCTL_CONNECTION_CHECK_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cit::ctl {

// The operator port dispatch-server listens on by default ([operator] listen).
inline constexpr int kDefaultOperatorPort = 7444;
// The telemetry port (agents only): the usual wrong guess for --server.
inline constexpr int kTelemetryPort = 7443;

// host:port, [v6]:port; no scheme, no path, a port in 1..65535.
absl::Status CheckServerAddress(const std::string& server);

// A finite deadline of more than 0 seconds.
absl::Status CheckTimeout(double seconds);

// The first line of a token file, trimmed; says which file and what to do when it is missing,
// unreadable or empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// The PEM text of a CA file; says which file and what to do when it is missing, unreadable or
// holds no certificate.
absl::StatusOr<std::string> ReadCaFile(const std::string& path);

// The error for a TLS connection without any token.
absl::Status NoTokenError();

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_CONNECTION_CHECK_H_
