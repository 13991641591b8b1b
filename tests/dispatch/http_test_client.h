// A small HTTP/1.1 client for the HTTP API tests (Boost.Beast, real TLS over loopback verified
// against the demo CA, or plain HTTP). Every operation has a deadline, so a broken server fails
// a test instead of hanging it.
//
//   HttpTestClient c(port, certs->Read("ca.crt"));     // "" CA: plain HTTP
//   HttpReply r = c.Request("POST", "/api/v1/session", R"({"token":"..."})");
//   SseTestReader sse(port, ca, "/api/v1/cit.v1.Alerts/WatchAlerts", {{"Cookie", cookie}});
//   std::optional<SseTestEvent> e = sse.Next();        // the next event (comments skipped)
//
// Thread contract: one client per thread.
#ifndef CIT_TESTS_DISPATCH_HTTP_TEST_CLIENT_H_
#define CIT_TESTS_DISPATCH_HTTP_TEST_CLIENT_H_

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cit::test {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;

struct HttpReply {
  int status = 0;  // 0: no answer (connection failed, closed or timed out)
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  nlohmann::json Json() const {
    return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One connection, plain or TLS.
class HttpTestConnection {
 public:
  HttpTestConnection(int port, const std::string& ca_pem,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20))
      : timeout_(timeout), tls_ctx_(net::ssl::context::tls_client) {
    net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    beast::error_code ec;
    if (ca_pem.empty()) {
      plain_ = std::make_unique<beast::tcp_stream>(ioc_);
      plain_->socket().connect(ep, ec);
      ok_ = !ec;
      return;
    }
    tls_ctx_.add_certificate_authority(net::buffer(ca_pem), ec);
    tls_ctx_.set_verify_mode(net::ssl::verify_peer);
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, tls_ctx_);
    tls_->set_verify_callback(net::ssl::host_name_verification("localhost"));
    SSL_set_tlsext_host_name(tls_->native_handle(), "localhost");
    beast::get_lowest_layer(*tls_).socket().connect(ep, ec);
    if (ec) return;
    beast::get_lowest_layer(*tls_).expires_after(timeout_);
    tls_->async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    Run();
    ok_ = !ec;
  }

  bool ok() const { return ok_; }

  bool Write(const std::string& bytes) {
    beast::error_code ec;
    Visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(timeout_);
      net::async_write(s, net::buffer(bytes), [&](beast::error_code e, std::size_t) { ec = e; });
    });
    Run();
    return !ec;
  }

  HttpReply ReadResponse() {
    HttpReply reply;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code ec;
    Visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(timeout_);
      bhttp::async_read(s, buffer_, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    });
    Run();
    if (ec) return reply;
    auto& res = parser.get();
    reply.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers.emplace(name, std::string(f.value()));
    }
    reply.body = res.body();
    return reply;
  }

  // Reads whatever arrives next (up to `timeout`); "" on end of stream, error or timeout.
  std::string ReadSome(std::chrono::milliseconds timeout) {
    if (buffer_.size() != 0) {
      std::string out = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      return out;
    }
    std::string out(4096, '\0');
    std::size_t n = 0;
    beast::error_code ec;
    Visit([&](auto& s) {
      beast::get_lowest_layer(s).expires_after(timeout);
      s.async_read_some(net::buffer(out), [&](beast::error_code e, std::size_t k) {
        ec = e;
        n = k;
      });
    });
    Run();
    last_error_ = ec;
    out.resize(ec ? 0 : n);
    return out;
  }
  beast::error_code last_error() const { return last_error_; }

  // Bytes read with the response head but not yet consumed (start of an event stream).
  std::string TakeBuffered() {
    std::string out = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    return out;
  }

  void Close() {
    beast::error_code ec;
    Visit([&](auto& s) { beast::get_lowest_layer(s).socket().close(ec); });
  }

 private:
  template <typename F>
  void Visit(F&& f) {
    if (plain_) {
      f(*plain_);
    } else if (tls_) {
      f(*tls_);
    }
  }
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  std::chrono::milliseconds timeout_;
  net::io_context ioc_;
  net::ssl::context tls_ctx_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  beast::error_code last_error_;
  bool ok_ = false;
};

inline std::string RequestText(const std::string& method, const std::string& target,
                               const std::string& body, const Headers& headers,
                               bool keep_alive = false) {
  std::string s = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& [k, v] : headers) s += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    s +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (!keep_alive) s += "Connection: close\r\n";
  return s + "\r\n" + body;
}

class HttpTestClient {
 public:
  HttpTestClient(int port, std::string ca_pem) : port_(port), ca_pem_(std::move(ca_pem)) {}

  // One request on a fresh connection.
  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = "", const Headers& headers = {}) const {
    HttpTestConnection c(port_, ca_pem_);
    if (!c.ok() || !c.Write(RequestText(method, target, body, headers))) return {};
    return c.ReadResponse();
  }

  int port() const { return port_; }
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  int port_;
  std::string ca_pem_;
};

struct SseTestEvent {
  std::string id;
  std::string event;
  std::string data;
  nlohmann::json Json() const {
    return nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  }
};

// GET of an event stream; parses "id:", "event:", "data:" lines into events.
class SseTestReader {
 public:
  SseTestReader(const HttpTestClient& client, const std::string& target, const Headers& headers)
      : connection_(client.port(), client.ca_pem()) {
    if (!connection_.ok() ||
        !connection_.Write(RequestText("GET", target, "", headers, /*keep_alive=*/true))) {
      return;
    }
    // Read the head by hand: the body never ends.
    std::string data;
    std::size_t end = std::string::npos;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      std::string more = connection_.ReadSome(std::chrono::seconds(20));
      if (more.empty()) return;
      data += more;
    }
    head_ = data.substr(0, end);
    pending_ = data.substr(end + 4);
    if (head_.size() > 12) status_ = std::stoi(head_.substr(9, 3));
  }

  int status() const { return status_; }
  const std::string& head() const { return head_; }
  // Comment lines seen so far (": keep-alive").
  int comments() const { return comments_; }

  // The next event, or nullopt after `timeout` or when the stream ends.
  std::optional<SseTestEvent> Next(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      std::size_t end;
      while ((end = pending_.find("\n\n")) != std::string::npos) {
        std::string block = pending_.substr(0, end);
        pending_.erase(0, end + 2);
        SseTestEvent e;
        bool any = false;
        std::size_t pos = 0;
        while (pos <= block.size()) {
          std::size_t nl = block.find('\n', pos);
          std::string line = block.substr(pos, nl == std::string::npos ? nl : nl - pos);
          pos = nl == std::string::npos ? block.size() + 1 : nl + 1;
          if (line.rfind(":", 0) == 0) {
            ++comments_;
          } else if (line.rfind("id: ", 0) == 0) {
            e.id = line.substr(4);
            any = true;
          } else if (line.rfind("event: ", 0) == 0) {
            e.event = line.substr(7);
            any = true;
          } else if (line.rfind("data: ", 0) == 0) {
            e.data += line.substr(6);
            any = true;
          }
        }
        if (any) return e;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      std::string more = connection_.ReadSome(left);
      if (more.empty()) {
        ended_ = connection_.last_error() && connection_.last_error() != beast::error::timeout;
        if (ended_) return std::nullopt;
        continue;
      }
      pending_ += more;
    }
  }
  // True once the server closed the stream.
  bool ended() const { return ended_; }
  void Close() { connection_.Close(); }

 private:
  HttpTestConnection connection_;
  std::string head_;
  std::string pending_;
  int status_ = 0;
  int comments_ = 0;
  bool ended_ = false;
};

}  // namespace cit::test

#endif  // CIT_TESTS_DISPATCH_HTTP_TEST_CLIENT_H_
