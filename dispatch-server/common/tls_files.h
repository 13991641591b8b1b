// The server's TLS files, shared by the gRPC ports (server/) and the HTTP API (http/).
//
//   TlsFiles tls{.ca_file = "certs/ca.crt", .cert_file = "certs/server.crt",
//                .key_file = "certs/server.key"};
//
// Thread contract: a plain value.
#ifndef CIT_DISPATCH_SERVER_COMMON_TLS_FILES_H_
#define CIT_DISPATCH_SERVER_COMMON_TLS_FILES_H_

#include <filesystem>

namespace cit::dispatch {

struct TlsFiles {
  // PEM files. ca_file: the fleet CA that signs vehicle certificates (telemetry port).
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_COMMON_TLS_FILES_H_
