#include "dispatchctl/error_advice.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dispatchctl/connection_check.h"

namespace cit::ctl {
namespace {

std::string Line(const std::string& text) { return "  -> " + text + "\n"; }

bool EndsWithPort(const std::string& server, int port) {
  return absl::EndsWith(server, absl::StrCat(":", port));
}

std::string Unavailable(const grpc::Status& status, const std::string& server) {
  const std::string& m = status.error_message();
  std::string out;
  if (EndsWithPort(server, kTelemetryPort)) {
    out += Line(absl::StrCat(server, " looks like the telemetry port (agents only); operators use ",
                             "the operator port, by default ", kDefaultOperatorPort));
  }
  if (absl::StrContains(m, "Connection refused") || absl::StrContains(m, "Failed to connect")) {
    out += Line(absl::StrCat("nothing answers at ", server,
                             ": is dispatch-server running there, and is this its operator "
                             "port ([operator] listen)?"));
  } else if (absl::StrContains(m, "Socket closed") || absl::StrContains(m, "handshake") ||
             absl::StrContains(m, "SSL") || absl::StrContains(m, "certificate")) {
    out += Line(absl::StrCat(
        "the TLS connection to ", server,
        " failed: check --ca-file (the CA that signed the server's certificate), --server-name "
        "(the name in that certificate) and that this is the operator port, not a plain-text "
        "or telemetry port"));
  } else {
    out += Line(absl::StrCat("check that dispatch-server runs at ", server,
                             " and that the network allows it; `watch` retries by itself"));
  }
  return out;
}

}  // namespace

std::string AdviceFor(const grpc::Status& status, const std::string& server) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return Unavailable(status, server);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Line(absl::StrCat(
          "no answer from ", server,
          " within --timeout: raise --timeout, or check the server's load and the network"));
    case grpc::StatusCode::UNAUTHENTICATED:
      return Line(
          "the server does not know this token: check --token-file / CIT_TOKEN_FILE / CIT_TOKEN; "
          "`dispatchctl token hash` prints the hash the server's token file must list");
    case grpc::StatusCode::PERMISSION_DENIED:
      return Line(
          "your role may not do this (operators watch and act on alerts, dispatchers plan runs, "
          "auditors read reports); ask an administrator for a token with the right role");
    default:
      return "";
  }
}

}  // namespace cit::ctl
