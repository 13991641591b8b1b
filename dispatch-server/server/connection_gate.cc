#include "dispatch-server/server/connection_gate.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dispatch-server/common/host_port.h"
#include "dispatch-server/server/accepted_socket.h"
#include "dispatch-server/server/fd_limit.h"

namespace cit::dispatch {

namespace {

constexpr auto kFdRecount = std::chrono::milliseconds(50);
constexpr auto kPruneInterval = std::chrono::milliseconds(100);
// With no descriptor left even for the reserve, the loop waits this long before trying again
// (the listening socket stays readable, so polling it would spin).
constexpr int kBackoffMs = 100;

int OpenReserve() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

ConnectionGate::ConnectionGate(ConnectionGateOptions options, MetricsRegistry* metrics)
    : options_(std::move(options)) {
  const MetricLabels port = {{"port", options_.name}};
  auto refused = [&](const char* reason) {
    return &metrics->GetCounter("cit_connections_refused_total",
                                "Connections accepted and closed at once, by port and reason",
                                {{"port", options_.name}, {"reason", reason}});
  };
  accepted_ = &metrics->GetCounter("cit_connections_accepted_total",
                                   "Connections handed to the gRPC server, by port", port);
  refused_fd_reserve_ = refused("fd_reserve");
  refused_max_connections_ = refused("max_connections");
  refused_emfile_ = refused("emfile");
  open_ = &metrics->GetGauge("cit_connections_open",
                             "Connections handed to the gRPC server and still open, by port", port);
}

absl::StatusOr<std::unique_ptr<ConnectionGate>> ConnectionGate::Listen(
    const std::string& address, ConnectionGateOptions options, MetricsRegistry* metrics) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("not a host:port address: \"", address, "\""));
  }
  std::unique_ptr<ConnectionGate> g(new ConnectionGate(std::move(options), metrics));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", address, ": ", ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res, &::freeaddrinfo);
  g->listen_fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (g->listen_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  const int one = 1, zero = 0;
  ::setsockopt(g->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (res->ai_family == AF_INET6) {
    ::setsockopt(g->listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(g->listen_fd_, res->ai_addr, res->ai_addrlen) != 0 ||
      ::listen(g->listen_fd_, SOMAXCONN) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(g->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  g->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  g->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  g->reserve_fd_ = OpenReserve();
  if (g->wake_fd_ < 0 || g->reserve_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("eventfd/open: ", std::strerror(errno)));
  }
  return g;
}

ConnectionGate::~ConnectionGate() {
  Stop();
  for (int fd : {listen_fd_, wake_fd_, reserve_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void ConnectionGate::Start(
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor) {
  acceptor_ = std::move(acceptor);
  thread_ = std::thread([this] { Loop(); });
}

void ConnectionGate::Stop() {
  stop_.store(true);
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);  // new connection attempts are refused by the kernel from now on
    listen_fd_ = -1;
  }
}

void ConnectionGate::Loop() {
  bool backoff = false;
  while (!stop_.load()) {
    pollfd p[2] = {{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    // Backing off: wait for Stop() only, for kBackoffMs. At the cap: look again for closed
    // connections every kPruneInterval, so the cap (and health) clears without a new accept.
    const bool saturated = saturated_.load();
    const bool short_of_fds = short_of_fds_.load();
    const int timeout_ms =
        backoff ? kBackoffMs
                : (saturated || short_of_fds ? static_cast<int>(kPruneInterval.count()) : -1);
    const int n = ::poll(p, backoff ? 1 : 2, timeout_ms);
    if (stop_.load()) break;
    if (n < 0 && errno != EINTR) {
      spdlog::error("event=connection_gate_poll_failed port={} error=\"{}\"", options_.name,
                    std::strerror(errno));
      backoff = true;
      continue;
    }
    if (saturated) {
      Prune();
      if (static_cast<int>(handed_on_.size()) < options_.max_connections) saturated_.store(false);
    }
    if (short_of_fds && FdHeadroom(RecoveryReserve()).ok()) {
      short_of_fds_.store(false);
      spdlog::info("event=connections_accepted_again port={}", options_.name);
    }
    backoff = !AcceptAll();
  }
}

bool ConnectionGate::AcceptAll() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      switch (errno) {
        case EINTR:
        case ECONNABORTED:
          continue;
        case EAGAIN:
          return true;
        case EMFILE:
        case ENFILE: {
          // No descriptor for the connection: give up the reserve, take the connection off the
          // backlog and close it, take the reserve back.
          if (reserve_fd_ >= 0) {
            ::close(reserve_fd_);
            reserve_fd_ = -1;
          }
          const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) {
            ::close(c);
            refused_emfile_->Increment();
          }
          reserve_fd_ = OpenReserve();
          if (c < 0 || reserve_fd_ < 0) return false;  // nothing freed yet: back off
          continue;
        }
        default:
          spdlog::error("event=accept_failed port={} error=\"{}\"", options_.name,
                        std::strerror(errno));
          return false;
      }
    }
    if (const char* reason = RefusalReason(fd); reason != nullptr) {
      ::close(fd);
      continue;
    }
    if (!TuneAcceptedSocket(fd)) {
      spdlog::warn("event=socket_option_failed port={} option=TCP_NODELAY error=\"{}\"",
                   options_.name, std::strerror(errno));
    }
    struct stat st {};
    ::fstat(fd, &st);
    handed_on_[fd] = st.st_ino;
    live_.store(static_cast<int>(handed_on_.size()));
    open_->Set(static_cast<double>(handed_on_.size()));
    ++fd_count_;
    accepted_->Increment();
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
    p.listener_fd = listen_fd_;
    p.fd = fd;
    acceptor_->HandleNewConnection(&p);  // gRPC owns fd now
  }
}

const char* ConnectionGate::RefusalReason(int fd) {
  const auto now = std::chrono::steady_clock::now();
  const int64_t limit = static_cast<int64_t>(SoftFdLimit());
  // Descriptors are allocated lowest first: every number below fd is open.
  // Once short, refusing goes on until a larger reserve is free again (hysteresis): a flood
  // hovering at the threshold sees a steady "refused", and health a steady "not accepting".
  const int reserve = short_of_fds_.load() ? RecoveryReserve() : options_.fd_reserve;
  bool short_of_fds = fd + 1 + reserve >= limit;
  if (!short_of_fds) {
    if (now - fd_count_at_ >= kFdRecount) {
      fd_count_ = OpenFdCount();  // -1 when even opendir fails: short
      fd_count_at_ = now;
    }
    short_of_fds = fd_count_ < 0 || fd_count_ + reserve >= limit;
  }
  if (short_of_fds) {
    if (!short_of_fds_.exchange(true)) {
      spdlog::warn("event=connections_refused port={} reason=fd_reserve fd_reserve={} limit={}",
                   options_.name, options_.fd_reserve, limit);
    }
    refused_fd_reserve_->Increment();
    return "fd_reserve";
  }
  short_of_fds_.store(false);
  if (now - last_prune_ >= kPruneInterval) {
    Prune();
    last_prune_ = now;
  }
  if (options_.max_connections > 0 &&
      static_cast<int>(handed_on_.size()) >= options_.max_connections) {
    if (!saturated_.exchange(true)) {
      spdlog::warn("event=connection_cap_reached port={} max_connections={}", options_.name,
                   options_.max_connections);
    }
    refused_max_connections_->Increment();
    return "max_connections";
  }
  saturated_.store(false);
  return nullptr;
}

void ConnectionGate::Prune() {
  for (auto it = handed_on_.begin(); it != handed_on_.end();) {
    struct stat st {};
    if (::fstat(it->first, &st) != 0 || st.st_ino != it->second || !S_ISSOCK(st.st_mode)) {
      it = handed_on_.erase(it);
    } else {
      ++it;
    }
  }
  live_.store(static_cast<int>(handed_on_.size()));
  open_->Set(static_cast<double>(handed_on_.size()));
}

}  // namespace cit::dispatch
