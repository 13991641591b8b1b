#include "dispatch-server/http/security_headers.h"

#include <fmt/format.h>

#include <algorithm>

namespace cit::dispatch {

std::string OriginOf(std::string_view url) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::size_t host_end = url.find_first_of("/?#", scheme_end + 3);
  std::string_view origin = url.substr(0, host_end);
  // A template placeholder in the host ("{s}.tile.example") becomes a CSP wildcard.
  std::string out(origin);
  std::size_t brace = origin.find('{');
  if (brace != std::string_view::npos) {
    std::size_t close = origin.find('}', brace);
    if (close == std::string_view::npos || brace != scheme_end + 3) return "";
    out = fmt::format("{}*{}", origin.substr(0, brace), origin.substr(close + 1));
  }
  // Only characters that cannot end the CSP directive.
  if (std::any_of(out.begin(), out.end(),
                  [](char c) { return c == ';' || c == ',' || c <= ' '; })) {
    return "";
  }
  return out;
}

SecurityHeaders::SecurityHeaders(std::string_view tile_url) {
  std::string img = "'self' data:";
  if (std::string origin = OriginOf(tile_url); !origin.empty()) img.append(" ").append(origin);
  csp_ = fmt::format(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src {}; connect-src 'self'; "
      "object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
      img);
}

void SecurityHeaders::Apply(std::string_view request_path, HttpResponse* response) const {
  auto& h = response->headers;
  h.emplace_back("Content-Security-Policy", csp_);
  h.emplace_back("X-Content-Type-Options", "nosniff");
  h.emplace_back("Referrer-Policy", "no-referrer");
  h.emplace_back("X-Frame-Options", "DENY");
  if (request_path.substr(0, 5) == "/api/") h.emplace_back("Cache-Control", "no-store");
}

}  // namespace cit::dispatch
