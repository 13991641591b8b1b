#include "dispatch-server/http/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "dispatch-server/http/api_router.h"
#include "dispatch-server/http/connection.h"
#include "dispatch-server/http/grpc_gateway.h"
#include "dispatch-server/http/http_metrics.h"
#include "dispatch-server/http/security_headers.h"
#include "dispatch-server/http/signin_limiter.h"

namespace cit::dispatch {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Declaration order is destruction order reversed: the io_context (and with it every pending
// handler holding a connection) goes first, then what connections point to.
struct HttpServer::Impl {
  explicit Impl(HttpServerDeps d)
      : deps(std::move(d)),
        metrics(*deps.metrics),
        sessions(std::make_shared<SessionStore>(deps.options.session_ttl, deps.options.session_idle,
                                                deps.options.max_sessions, deps.clock)),
        limiter(deps.options.signin_max_failures, deps.options.signin_window, deps.clock),
        headers(deps.options.tile_url),
        tracker(deps.options.max_connections),
        acceptor(net::make_strand(ioc)),
        retry_timer(acceptor.get_executor()) {}

  void Accept();

  HttpServerDeps deps;
  HttpMetrics metrics;
  std::shared_ptr<SessionStore> sessions;  // shared with the metrics callback
  SigninLimiter limiter;
  std::unique_ptr<GrpcGateway> gateway;
  std::unique_ptr<ApiRouter> router;
  SecurityHeaders headers;
  ConnectionTracker tracker;
  http_internal::ConnectionShared shared{};
  std::optional<net::ssl::context> tls;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer retry_timer;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  int port = 0;
  bool stopped = false;
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept(
      net::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
          // Out of file descriptors and the like: log, wait a little, go on accepting.
          spdlog::warn("event=http_accept_failed error=\"{}\"", ec.message());
          retry_timer.expires_after(std::chrono::milliseconds(100));
          retry_timer.async_wait([this](boost::system::error_code e) {
            if (!e) Accept();
          });
          return;
        }
        bool evicted = false;
        if (!tracker.MakeRoom(&evicted)) {
          metrics.refused->Increment();
          boost::system::error_code ignored;
          socket.close(ignored);
        } else {
          if (evicted) metrics.evicted->Increment();
          http_internal::StartConnection(std::move(socket), tls ? &*tls : nullptr, shared);
        }
        Accept();
      });
}

std::string LoopbackTarget(const std::string& listen_address, int port) {
  std::string host = listen_address.substr(0, listen_address.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host = "127.0.0.1";
  return fmt::format("{}:{}", host, port);
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port; }

SessionStore& HttpServer::sessions() { return *impl_->sessions; }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerDeps deps) {
  if (deps.metrics == nullptr) return absl::InvalidArgumentError("HttpServer needs metrics");
  auto impl = std::make_unique<Impl>(std::move(deps));
  const HttpOptions& o = impl->deps.options;

  GatewayOptions g;
  g.target = impl->deps.operator_target;
  g.insecure = impl->deps.insecure_dev;
  g.ca_file = o.loopback_ca;
  g.server_name = o.loopback_name;
  g.call_timeout = o.call_timeout;
  absl::StatusOr<std::unique_ptr<GrpcGateway>> gateway = GrpcGateway::Create(g);
  if (!gateway.ok()) return gateway.status();
  impl->gateway = std::move(*gateway);

  ApiRouter::Deps r;
  r.options = &impl->deps.options;
  r.insecure = impl->deps.insecure_dev;
  r.tokens = impl->deps.tokens;
  r.gateway = impl->gateway.get();
  r.sessions = impl->sessions.get();
  r.signin_limiter = &impl->limiter;
  r.metrics = &impl->metrics;
  impl->router = std::make_unique<ApiRouter>(r);
  impl->shared = {&impl->deps.options, impl->router.get(), &impl->headers, &impl->metrics,
                  &impl->tracker};

  if (!impl->deps.insecure_dev) {
    impl->tls.emplace(net::ssl::context::tls_server);
    impl->tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                           net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                           net::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    impl->tls->use_certificate_chain_file(impl->deps.tls.cert_file.string(), ec);
    if (ec) {
      return absl::InvalidArgumentError(
          fmt::format("tls.cert {}: {}", impl->deps.tls.cert_file.string(), ec.message()));
    }
    impl->tls->use_private_key_file(impl->deps.tls.key_file.string(), net::ssl::context::pem, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          fmt::format("tls.key {}: {}", impl->deps.tls.key_file.string(), ec.message()));
    }
  }

  // Bind.
  const std::size_t colon = o.listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("http.listen \"{}\" must be host:port", o.listen));
  }
  std::string host = o.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  tcp::resolver resolver(impl->ioc);
  auto endpoints = resolver.resolve(host, o.listen.substr(colon + 1),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("http.listen \"{}\": {}", o.listen, ec ? ec.message() : "no address"));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        fmt::format("cannot listen on http address {}: {}", o.listen, ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->deps.metrics->AddCallbackGauge("cit_http_sessions", "Live browser sessions",
                                       [weak = std::weak_ptr<SessionStore>(impl->sessions)] {
                                         auto sessions = weak.lock();
                                         return sessions ? static_cast<double>(sessions->size())
                                                         : 0.0;
                                       });

  impl->work.emplace(impl->ioc.get_executor());
  net::post(impl->acceptor.get_executor(), [i = impl.get()] { i->Accept(); });
  for (int t = 0; t < std::max(1, o.threads); ++t) {
    impl->threads.emplace_back([i = impl.get()] { i->ioc.run(); });
  }
  if (impl->deps.insecure_dev) {
    spdlog::warn(
        "event=http_insecure_dev note=\"plain HTTP: session cookies lack Secure; development "
        "only\"");
  }
  spdlog::info("event=http_started port={} tls={} assets_dir=\"{}\"", impl->port,
               impl->deps.insecure_dev ? "off" : "on", o.assets_dir.string());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
  Impl& i = *impl_;
  if (i.stopped) return;
  i.stopped = true;
  std::promise<void> closed;
  net::post(i.acceptor.get_executor(), [&i, &closed] {
    boost::system::error_code ec;
    i.acceptor.close(ec);
    i.retry_timer.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  // Streams and calls end first (their last callbacks post to connections), then connections.
  i.gateway->Stop();
  i.tracker.EvictAll();
  for (int n = 0; n < 200 && i.tracker.size() > 0; ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  i.work.reset();
  i.ioc.stop();
  for (std::thread& t : i.threads) t.join();
  i.threads.clear();
  spdlog::info("event=http_stopped");
}

}  // namespace cit::dispatch
