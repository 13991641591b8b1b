#include "dispatchctl/connection_check.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "geo/input_limits.h"

namespace cit::ctl {
namespace {

constexpr std::size_t kMaxCredentialFileBytes = 1 << 20;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

// Why a file cannot be read, in words (the bounded reader's own message names the limit).
std::string WhyUnreadable(const std::string& path, const absl::Status& read) {
  std::ifstream probe(path);
  if (!probe) return std::strerror(errno);
  return std::string(read.message());
}

// `example` is host:port, or a host to which the default operator port is added.
absl::Status BadAddress(const std::string& server, const std::string& why,
                        const std::string& example) {
  std::string suggestion = example.empty() ? "localhost" : example;
  if (suggestion.back() == ']' || suggestion.find(':') == std::string::npos) {
    absl::StrAppend(&suggestion, ":", kDefaultOperatorPort);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--server '", server, "' ", why, ": give host:port of the operator port, e.g. ",
                   suggestion, " (CIT_SERVER or `server` in the config file work too)"));
}

}  // namespace

absl::Status CheckServerAddress(const std::string& server) {
  if (server.empty()) return BadAddress(server, "is empty", "");
  if (const auto scheme = server.find("://"); scheme != std::string::npos) {
    std::string rest = server.substr(scheme + 3);
    rest = rest.substr(0, rest.find('/'));
    return BadAddress(server, "has a scheme; dispatchctl speaks gRPC, not a URL", rest);
  }
  if (server.find('/') != std::string::npos) return BadAddress(server, "has a path", "");
  std::string host;
  std::string port;
  if (server.front() == '[') {
    const auto close = server.find(']');
    if (close == std::string::npos) return BadAddress(server, "has an unclosed '['", "");
    host = server.substr(0, close + 1);
    if (close + 1 == server.size()) return BadAddress(server, "has no port", host);
    if (server[close + 1] != ':') return BadAddress(server, "has text after ']'", host);
    port = server.substr(close + 2);
  } else {
    const auto colon = server.rfind(':');
    if (colon == std::string::npos) return BadAddress(server, "has no port", server);
    host = server.substr(0, colon);
    if (host.find(':') != std::string::npos) {
      return BadAddress(server, "looks like an IPv6 address without brackets", "[" + host + "]");
    }
    port = server.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return BadAddress(server, "has no host", "");
  int number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number < 1 ||
      number > 65535) {
    return BadAddress(server, absl::StrCat("has port '", port, "', not a number from 1 to 65535"),
                      host);
  }
  return absl::OkStatus();
}

absl::Status CheckTimeout(double seconds) {
  if (std::isfinite(seconds) && seconds > 0 && seconds <= 24 * 3600) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--timeout ", seconds,
                   " is not a deadline: give the seconds one call may take, more than 0 and at "
                   "most 86400 (default 10; `watch` is not limited by it)"));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> text = geo::ReadFileBounded(path, kMaxCredentialFileBytes);
  if (!text.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token file '", path, "' cannot be read (", WhyUnreadable(path, text.status()),
        "): pass --token-file with the file your administrator gave you (its first line is the "
        "token), or set CIT_TOKEN_FILE"));
  }
  std::string token = Trim(text->substr(0, text->find('\n')));
  if (token.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "token file '", path, "' has an empty first line: the token must be on the first line"));
  }
  return token;
}

absl::StatusOr<std::string> ReadCaFile(const std::string& path) {
  absl::StatusOr<std::string> text = geo::ReadFileBounded(path, kMaxCredentialFileBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA file '", path, "' cannot be read (", WhyUnreadable(path, text.status()),
                     "): pass --ca-file with the PEM certificate of the CA that signed the "
                     "server's certificate (the server's [tls] ca), or set CIT_CA_FILE"));
  }
  if (text->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA file '", path,
                     "' holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' line): pass "
                     "the CA certificate, not a key or a DER file"));
  }
  return *std::move(text);
}

absl::Status NoTokenError() {
  return absl::UnauthenticatedError(
      "no token: pass --token-file FILE (first line is the token), set CIT_TOKEN_FILE or "
      "CIT_TOKEN, or put token-file in the config file; an administrator makes one with "
      "`dispatchctl token new`");
}

}  // namespace cit::ctl
