#include "dispatch-server/metrics/http_server.h"

#include <boost/asio.hpp>
#include <charconv>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {

namespace asio = boost::asio;
using asio::ip::tcp;

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return false;
  std::string h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int p = 0;
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  auto [ptr, ec] = std::from_chars(first, last, p);
  if (ec != std::errc() || ptr != last || p < 0 || p > 65535) return false;
  *host = h.empty() ? "0.0.0.0" : h;
  *port = p;
  return true;
}

struct MetricsHttpServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
};

namespace {

// One connection: read the request head, answer, close.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const MetricsRegistry* registry, const std::atomic<bool>* healthy)
      : socket_(std::move(socket)), registry_(registry), healthy_(healthy) {}

  void Start() {
    auto self = shared_from_this();
    asio::async_read_until(socket_, asio::dynamic_buffer(request_, 16 * 1024), "\r\n\r\n",
                           [self](boost::system::error_code ec, size_t) {
                             if (!ec) self->Respond();
                           });
  }

 private:
  void Respond() {
    std::string status = "200 OK";
    std::string type = "text/plain; version=0.0.4; charset=utf-8";
    std::string body;
    const bool get = request_.rfind("GET ", 0) == 0;
    std::string path = request_.substr(4, request_.find(' ', 4) - 4);
    if (size_t q = path.find('?'); q != std::string::npos) path.resize(q);
    if (get && path == "/metrics") {
      body = registry_->Render();
    } else if (get && path == "/healthz") {
      if (healthy_->load()) {
        body = "ok\n";
      } else {
        status = "503 Service Unavailable";
        body = "draining\n";
      }
    } else {
      status = get ? "404 Not Found" : "405 Method Not Allowed";
      type = "text/plain";
      body = "try GET /metrics or /healthz\n";
    }
    response_ =
        absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                     "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(response_), [self](boost::system::error_code, size_t) {
      boost::system::error_code ignored;
      self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  tcp::socket socket_;
  const MetricsRegistry* registry_;
  const std::atomic<bool>* healthy_;
  std::string request_;
  std::string response_;
};

void Accept(tcp::acceptor& acceptor, const MetricsRegistry* registry,
            const std::atomic<bool>* healthy) {
  acceptor.async_accept(
      [&acceptor, registry, healthy](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) std::make_shared<Connection>(std::move(socket), registry, healthy)->Start();
        Accept(acceptor, registry, healthy);
      });
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(const MetricsRegistry* registry) : registry_(registry) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& address) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' is not host:port"));
  }
  impl_ = std::make_unique<Impl>();
  boost::system::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    // A host name: resolve it (e.g. "localhost").
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics address '", address, "': ", ec.message()));
    }
    ip = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", address, ": ", ec.message()));
  }
  port_ = impl_->acceptor.local_endpoint().port();
  Accept(impl_->acceptor, registry_, &healthy_);
  thread_ = std::thread([this] { impl_->io.run(); });
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (!impl_) return;
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

}  // namespace cit::dispatch
