#include "dispatch-server/http/http_message.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace cit::dispatch {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(part) for each `sep`-separated part of `s` (empty parts included).
template <typename F>
void ForEachPart(std::string_view s, char sep, F&& f) {
  while (true) {
    std::size_t at = s.find(sep);
    f(s.substr(0, at));
    if (at == std::string_view::npos) return;
    s.remove_prefix(at + 1);
  }
}

int HexValue(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpRequest::query() const {
  std::string_view t = target;
  std::size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::Cookie(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (!EqualsIgnoreCase(k, "cookie")) continue;
    std::optional<std::string> found;
    ForEachPart(v, ';', [&](std::string_view part) {
      part = Trim(part);
      std::size_t eq = part.find('=');
      if (!found && eq != std::string_view::npos && part.substr(0, eq) == name) {
        found = std::string(part.substr(eq + 1));
      }
    });
    if (found) return found;
  }
  return std::nullopt;
}

std::optional<std::string> UrlDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size() || HexValue(in[i + 1]) < 0 || HexValue(in[i + 2]) < 0) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  bool ok = true;
  ForEachPart(q, '&', [&](std::string_view part) {
    if (part.empty()) return;
    std::size_t eq = part.find('=');
    std::optional<std::string> key = UrlDecode(part.substr(0, eq), true);
    std::optional<std::string> value =
        UrlDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true);
    if (!key || !value) {
      ok = false;
      return;
    }
    out.emplace_back(std::move(*key), std::move(*value));
  });
  if (!ok) return std::nullopt;
  return out;
}

HttpResponse JsonResponse(int status, std::string json) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(json);
  return r;
}

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  nlohmann::json j = {{"code", code}, {"message", message}};
  // Invalid UTF-8 in a message (e.g. echoed input) is replaced rather than thrown on.
  return JsonResponse(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace cit::dispatch
