// The listening socket of a gRPC port, owned by the server instead of gRPC, so that running out
// of file descriptors cannot stop the port for good (issue 10, 4.3).
//
// gRPC 1.51 stops listening on a port after accept() fails with EMFILE and never re-arms it (a
// known upstream behaviour, grpc/grpc#20418), and it has no per-port connection cap
// (GRPC_ARG_MAX_ALLOWED_INCOMING_CONNECTIONS came later). A ConnectionGate accepts on the port
// itself and hands each connection to gRPC through an ExternalConnectionAcceptor (gRPC then runs
// the TLS handshake, with its handshake timeout, as for its own listener). It refuses (accepts
// and closes at once) a connection when
//  - fewer than `fd_reserve` descriptors would be left under the soft RLIMIT_NOFILE, or
//  - `max_connections` connections it handed on are still open;
// and when accept() itself fails with EMFILE/ENFILE it closes a reserve descriptor (/dev/null,
// opened at start), accepts and closes the pending connection, and opens the reserve again, so
// the backlog drains instead of filling and the port keeps working once descriptors are free.
//
//   absl::StatusOr<std::unique_ptr<ConnectionGate>> gate =
//       ConnectionGate::Listen("0.0.0.0:7443", {.name = "telemetry", .fd_reserve = 64}, &metrics);
//   grpc::ServerBuilder b;
//   auto acceptor = b.experimental().AddExternalConnectionAcceptor(
//       grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, creds);
//   auto server = b.BuildAndStart();
//   (*gate)->Start(std::move(acceptor));       // port: (*gate)->port()
//   ...
//   (*gate)->Stop();                           // before server->Shutdown()
//
// Metrics: cit_connections_refused_total{port,reason="fd_reserve"|"max_connections"|"emfile"},
// cit_connections_accepted_total{port}, cit_connections_open{port} (handed on, still open).
//
// Thread contract: Listen/Start/Stop from one owner thread; the accept loop runs on the gate's
// own thread; Saturated() and live_connections() from any thread.
#ifndef CIT_DISPATCH_SERVER_SERVER_CONNECTION_GATE_H_
#define CIT_DISPATCH_SERVER_SERVER_CONNECTION_GATE_H_

#include <grpcpp/server_builder.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

struct ConnectionGateOptions {
  // Port label in metrics and logs ("telemetry", "operator").
  std::string name;
  // Refuse while fewer than this many descriptors would be left under the soft limit.
  int fd_reserve = 64;
  // Connections handed on and still open; 0: no cap besides the descriptors (the server
  // always sets one).
  int max_connections = 0;
};

class ConnectionGate {
 public:
  // Binds and listens on "host:port" (port 0 picks a free port). A taken port is an error
  // (no SO_REUSEPORT). `metrics` is not owned and must outlive the gate.
  static absl::StatusOr<std::unique_ptr<ConnectionGate>> Listen(const std::string& address,
                                                                ConnectionGateOptions options,
                                                                MetricsRegistry* metrics);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;
  ConnectionGate(ConnectionGate&&) = delete;
  ConnectionGate& operator=(ConnectionGate&&) = delete;

  int port() const { return port_; }
  // Starts accepting; every accepted connection goes to `acceptor` (gRPC's, from
  // ServerBuilder::experimental().AddExternalConnectionAcceptor) after its server started.
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor);
  // Stops accepting and closes the listening socket (connections handed on stay with gRPC).
  // Idempotent; also run by the destructor.
  void Stop();

  // True while the connection cap is reached (the last accept was refused for it).
  bool Saturated() const { return saturated_.load(); }
  // True while connections are refused for the descriptor reserve: from when fewer than
  // fd_reserve are left until fd_reserve * 5/4 are free again (re-checked every 100 ms).
  bool ShortOfFds() const { return short_of_fds_.load(); }
  int live_connections() const { return live_.load(); }

 private:
  ConnectionGate(ConnectionGateOptions options, MetricsRegistry* metrics);
  void Loop();
  // Accepts until the backlog is empty; false when it must back off (no descriptor at all).
  bool AcceptAll();
  // Why `fd` (just accepted) must be refused, or nullptr.
  const char* RefusalReason(int fd);
  void Prune();
  // The reserve that must be free again before refusing for descriptors stops.
  int RecoveryReserve() const { return options_.fd_reserve + options_.fd_reserve / 4; }

  ConnectionGateOptions options_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;     // eventfd: Stop() wakes the loop
  int reserve_fd_ = -1;  // /dev/null, given up to accept-and-close on EMFILE
  int port_ = 0;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> saturated_{false};
  std::atomic<bool> short_of_fds_{false};
  std::atomic<int> live_{0};

  // Loop thread only. Connections handed on: fd -> socket inode (a reused fd number means the
  // old connection is gone; a different inode at that number too).
  std::unordered_map<int, ino_t> handed_on_;
  std::chrono::steady_clock::time_point last_prune_{};
  // Open descriptors as last counted (/proc/self/fd), plus those accepted since.
  int fd_count_ = 0;
  std::chrono::steady_clock::time_point fd_count_at_{};

  Counter* accepted_;
  Counter* refused_fd_reserve_;
  Counter* refused_max_connections_;
  Counter* refused_emfile_;
  Gauge* open_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_CONNECTION_GATE_H_
