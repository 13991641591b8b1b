#include "dispatch-server/metrics/http_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <exception>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "dispatch-server/common/host_port.h"

namespace cit::dispatch {

struct MetricsHttpServer::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
};

namespace {

// civetweb calls its callbacks with its own context, not with ours, and prometheus-cpp keeps
// the CivetServer private, so servers are found by their civetweb context: init_context runs
// inside the Exposer's constructor, on the thread that builds it, before any request.
std::mutex g_servers_mu;
std::map<const mg_context*, MetricsHttpServer*> g_servers;
thread_local MetricsHttpServer* g_starting = nullptr;

void InitContext(const mg_context* ctx) {
  std::lock_guard<std::mutex> lock(g_servers_mu);
  if (g_starting != nullptr) g_servers[ctx] = g_starting;
}

void ExitContext(const mg_context* ctx) {
  std::lock_guard<std::mutex> lock(g_servers_mu);
  g_servers.erase(ctx);
}

void Reply(mg_connection* conn, int code, const char* reason, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            code, reason, body.size(), body.c_str());
}

// /healthz; everything else goes on to prometheus-cpp (/metrics) or civetweb's 404.
int BeginRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (info == nullptr || info->local_uri == nullptr || std::string(info->local_uri) != "/healthz") {
    return 0;
  }
  absl::Status health = absl::UnavailableError("server stopping");
  {
    std::lock_guard<std::mutex> lock(g_servers_mu);
    auto it = g_servers.find(mg_get_context(conn));
    if (it != g_servers.end()) health = it->second->Health();
  }
  if (health.ok()) {
    Reply(conn, 200, "OK", "ok\n");
    return 200;
  }
  Reply(conn, 503, "Service Unavailable", std::string(health.message()) + "\n");
  return 503;
}

// civetweb reports dropped slow clients and the like; they are routine on an exposed port.
int LogMessage(const mg_connection*, const char* message) {
  spdlog::debug("event=metrics_http_note message=\"{}\"", message);
  return 1;
}

// civetweb takes numeric addresses only; resolve names ("localhost") here.
absl::StatusOr<std::string> ListeningPort(const std::string& address) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' is not host:port"));
  }
  boost::system::error_code ec;
  boost::asio::ip::address ip = boost::asio::ip::make_address(host, ec);
  if (ec) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics address '", address, "': ", ec.message()));
    }
    ip = results.begin()->endpoint().address();
  }
  return ip.is_v6() ? absl::StrCat("[", ip.to_string(), "]:", port)
                    : absl::StrCat(ip.to_string(), ":", port);
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(std::shared_ptr<const MetricsRegistry> registry,
                                     MetricsHttpOptions options)
    : registry_(std::move(registry)), options_(options) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::SetHealthCheck(std::function<absl::Status()> check) {
  std::lock_guard<std::mutex> lock(check_mu_);
  check_ = std::move(check);
}

absl::Status MetricsHttpServer::Health() const {
  if (!healthy_.load()) return absl::UnavailableError("draining");
  std::lock_guard<std::mutex> lock(check_mu_);
  return check_ ? check_() : absl::OkStatus();
}

absl::Status MetricsHttpServer::Start(const std::string& address) {
  absl::StatusOr<std::string> listening = ListeningPort(address);
  if (!listening.ok()) return listening.status();
  const std::vector<std::string> civet_options = {
      "listening_ports",
      *listening,
      "num_threads",
      std::to_string(std::max(1, options_.threads)),
      "connection_queue",
      std::to_string(std::max(1, options_.queue)),
      "request_timeout_ms",
      std::to_string(options_.request_timeout.count()),
      "enable_keep_alive",
      "no",
      // Headers of a scrape are a few hundred bytes.
      "max_request_size",
      "8192",
  };
  CivetCallbacks callbacks;
  callbacks.begin_request = BeginRequest;
  callbacks.log_message = LogMessage;
  callbacks.init_context = InitContext;
  callbacks.exit_context = ExitContext;
  impl_ = std::make_unique<Impl>();
  try {
    g_starting = this;
    impl_->exposer = std::make_unique<prometheus::Exposer>(civet_options, &callbacks);
    g_starting = nullptr;
  } catch (const std::exception& e) {
    g_starting = nullptr;
    impl_.reset();
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", address, ": ", e.what()));
  }
  impl_->exposer->RegisterCollectable(registry_->collectable());
  const std::vector<int> ports = impl_->exposer->GetListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (!impl_) return;
  impl_->exposer.reset();  // joins civetweb's threads; exit_context forgets this server
  impl_.reset();
}

}  // namespace cit::dispatch
