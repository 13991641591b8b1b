// The HTTP request and response as the API handlers see them: plain values, so that routing,
// sessions and the gateway do not depend on Boost.Beast (only connection.cc does).
//
//   HttpResponse r = JsonResponse(200, R"({"ok":true})");
//   r.headers.emplace_back("Set-Cookie", "...");
//
// Thread contract: plain values.
#ifndef CIT_DISPATCH_SERVER_HTTP_HTTP_MESSAGE_H_
#define CIT_DISPATCH_SERVER_HTTP_HTTP_MESSAGE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cit::dispatch {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent: "/api/v1/x?y=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client_address;  // peer IP, for rate limits and logs

  // Path without the query string.
  std::string_view path() const;
  // Raw query string after '?', or "".
  std::string_view query() const;
  // First header with this name (case-insensitive).
  std::optional<std::string_view> Header(std::string_view name) const;
  // Value of cookie `name` from the Cookie header(s).
  std::optional<std::string> Cookie(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

HttpResponse JsonResponse(int status, std::string json);
// Percent-decoding ('+' is a space only when `plus_is_space`, as in query strings); nullopt for a
// malformed escape.
std::optional<std::string> UrlDecode(std::string_view in, bool plus_is_space);
// "a=1&b=2&b=3" -> {{"a","1"},{"b","2"},{"b","3"}}, decoded; nullopt if malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view q);
// {"code":"<code>","message":"<message>"} with the given HTTP status.
HttpResponse JsonError(int status, std::string_view code, std::string_view message);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_HTTP_MESSAGE_H_
