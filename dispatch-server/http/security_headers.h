// Headers on every HTTP response (docs/http-api.md): a Content-Security-Policy without inline
// scripts or styles whose only foreign origin is the configured tile server, nosniff, no referrer,
// no framing; API responses are never cached.
//
//   SecurityHeaders headers("https://tiles.example/{z}/{x}/{y}.png");
//   headers.Apply(request_path, &response);
//
// Thread contract: immutable after construction.
#ifndef CIT_DISPATCH_SERVER_HTTP_SECURITY_HEADERS_H_
#define CIT_DISPATCH_SERVER_HTTP_SECURITY_HEADERS_H_

#include <string>
#include <string_view>

#include "dispatch-server/http/http_message.h"

namespace cit::dispatch {

// "https://tiles.example:8080" from a tile URL template; "" if it has no scheme://host.
std::string OriginOf(std::string_view url);

class SecurityHeaders {
 public:
  explicit SecurityHeaders(std::string_view tile_url);

  void Apply(std::string_view request_path, HttpResponse* response) const;
  const std::string& content_security_policy() const { return csp_; }

 private:
  std::string csp_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_SECURITY_HEADERS_H_
