// The dispatch-server assembly: store, ingest, the two gRPC servers and the metrics port.
//
//   DispatchServerOptions opts;                     // usually from config/config.h
//   opts.tls = {.ca_file = "certs/ca.crt", .cert_file = "certs/server.crt",
//               .key_file = "certs/server.key"};
//   DispatchServer::Builder builder(opts);
//   builder.AddOperatorService(&fleet_api)          // grpc::Service or CallbackService, not owned
//          .AddObserver(&monitor)                   // RecordObserver, not owned
//          .SetOperatorAuthProcessor(token_auth);   // bearer tokens on the operator port
//   builder.metrics().GetCounter("cit_alerts_raised_total", "...", {{"kind", "PANIC"}});
//   absl::StatusOr<std::unique_ptr<DispatchServer>> server = builder.Start();
//   ...                                             // SIGTERM:
//   (*server)->Shutdown();                          // stop accepting, commit, ack, end streams
//
// Ports:
//  - telemetry (Telemetry.Stream): TLS with client certificates REQUIRED and verified against
//    the fleet CA; the vehicle id is the certificate's CN (else first SAN).
//  - operator (services added with AddOperatorService): server TLS, no client certificate;
//    authentication is the operator services' business (bearer tokens, see the auth component).
//  - metrics: plain HTTP, GET /metrics (Prometheus text) and /healthz.
//  Both gRPC ports also serve grpc.health.v1.Health ("" and the service names). Their listening
//  sockets belong to a ConnectionGate each (connection cap, descriptor reserve, recovery from
//  EMFILE), which hands accepted connections to gRPC.
//  With insecure_dev both gRPC ports are plaintext and the vehicle id comes from Hello.
//
// Thread contract: Builder is single-threaded; DispatchServer methods may be called from any
// one thread at a time (main's signal loop). Observers run on the ingest's commit thread.
#ifndef CIT_DISPATCH_SERVER_DISPATCH_SERVER_H_
#define CIT_DISPATCH_SERVER_DISPATCH_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/common/text_file.h"
#include "dispatch-server/common/tls_files.h"
#include "dispatch-server/ingest/ingest_service.h"
#include "dispatch-server/metrics/http_server.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/server/connection_gate.h"
#include "dispatch-server/store/committed_record.h"
#include "dispatch-server/store/sqlite_db.h"
#include "dispatch-server/store/store.h"

namespace cit::dispatch {

struct DispatchServerOptions {
  // "host:port"; port 0 picks a free port (see DispatchServer::*_port()).
  std::string telemetry_address = "0.0.0.0:7443";
  std::string operator_address = "127.0.0.1:7444";
  // Empty disables the metrics port.
  std::string metrics_address = "127.0.0.1:9464";
  // [plans] require_stop_windows: refuse plans with a stop that has no arrival_latest.
  bool require_stop_windows = false;
  TlsFiles tls;
  // Plaintext gRPC on both ports, vehicle id from Hello. Development only; logged as a warning.
  bool insecure_dev = false;
  // SQLite database file shared by every component (records, runs, alerts, audit).
  std::filesystem::path database_path = "dispatch.db";
  sqlite::Durability durability = sqlite::Durability::kFull;
  // Raw bytes of rejected records kept per vehicle and reason (counts stay exact).
  size_t reject_samples_per_reason = 20;
  // Store backend ([store] backend): kSqlite keeps everything in database_path; kPostgresql
  // keeps records, runs, alerts, monitor snapshots, period reports and the notification outbox
  // in the PostgreSQL database of postgres_connection (the audit ledger and identity log still
  // use database_path: docs/operations.md).
  enum class StoreBackend { kSqlite, kPostgresql };
  StoreBackend store_backend = StoreBackend::kSqlite;
  std::string postgres_connection;  // libpq connection string ([store] connection)
  size_t postgres_pool_size = 4;    // read connections ([store] pool_size)
  // This instance's name among several sharing the PostgreSQL database ([store] instance);
  // set, each vehicle is taken over (ownership lease, fencing token) when its stream opens.
  std::string postgres_instance;
  // PostgreSQL: how often the alert-event log is read for alerts the other instances on the
  // database stored, to publish them to this instance's watchers ([store] alert_follow_ms).
  // Read by RunMonitoring, not by the core.
  std::chrono::milliseconds alert_follow_interval{200};
  // PostgreSQL: how often the plan log is read for runs the other instances planned, edited,
  // dispatched or ended, to apply them here ([store] plan_follow_ms). Read by RunMonitoring.
  std::chrono::milliseconds plan_follow_interval{200};
  // PostgreSQL: the escalation lease ([store] escalation_lease_ms): one instance escalates; when
  // it dies, another takes over within this long (renewed every third of it).
  std::chrono::milliseconds escalation_lease{5000};
  // Several instances: an instance whose heartbeat (one a second, database clock) is older
  // than this is dead, and a survivor adopts its vehicles ([store] instance_expiry_ms).
  // Read by RunMonitoring, not by the core.
  std::chrono::milliseconds instance_expiry{10'000};
  // How often each live run's monitor state is snapshotted into the database, so that a
  // restart re-evaluates only the records after it (monitor/state_rebuild.h); 0 = never (a
  // restart replays whole runs). Read by RunMonitoring, not by the core.
  double monitor_snapshot_interval_s = 300;
  IngestOptions ingest;
  // Largest gRPC message accepted on the telemetry port.
  int max_receive_message_bytes = 4 << 20;
  // gRPC's own memory on the telemetry port (grpc::ResourceQuota): HTTP/2 receive buffers of
  // every connection, including streams paused by the ingest's flow control; under pressure
  // gRPC shrinks its flow-control windows. 0 = gRPC's default (unbounded).
  int64_t telemetry_memory_quota_bytes = 256 << 20;
  // HTTP/2 receive window per telemetry stream, bytes, with gRPC's BDP probing off: what
  // gRPC buffers at most for a stream the ingest's flow control holds back (and its largest
  // TCP read chunk). BDP probing grows windows to megabytes per stream; 5,000 paused streams
  // then hold gigabytes. 64 KiB still drains a 24 h backlog (7 MB) in ~11 s at 100 ms RTT.
  // 0 = gRPC's defaults (BDP probing on).
  int telemetry_stream_window_bytes = 64 << 10;
  // Largest TLS record the server writes on the telemetry port, bytes (1,024..16,384; gRPC's
  // GRPC_ARG_TSI_MAX_FRAME_SIZE). gRPC keeps a buffer of this size per connection for its
  // writes; the server writes only Welcome and Acks there, so 4 KiB instead of gRPC's 16 KiB
  // saves ~12 KiB per vehicle and costs nothing. 0 = gRPC's default.
  int telemetry_tls_frame_bytes = 4 << 10;
  // HTTP/2 keepalive: the server pings idle clients this often and allows client pings this often.
  std::chrono::milliseconds keepalive_time{30'000};
  std::chrono::milliseconds keepalive_timeout{10'000};
  std::chrono::milliseconds min_client_ping_interval{10'000};
  // A connection must finish its TLS/HTTP2 handshake within this, so idle unauthenticated
  // connections cannot pile up.
  std::chrono::milliseconds handshake_timeout{10'000};
  // Connections open at once per gRPC port (server/connection_gate.h: the server accepts, not
  // gRPC, so running out of descriptors cannot stop a port); more are accepted and closed.
  int telemetry_max_connections = 20'000;
  int operator_max_connections = 1'000;
  // Health ("accepting vehicles") is re-evaluated this often and pushed to grpc.health.v1.
  std::chrono::milliseconds health_interval{1'000};
  // Not serving, and new vehicle connections refused, while fewer than this many file
  // descriptors are left under the soft limit; the operator port refuses only below half of it,
  // so operators still get in while vehicles are refused.
  int fd_reserve = 64;
  // The resident memory the server is sized to stay under, bytes ([server] memory_limit_bytes;
  // 0 = none). Not enforced by itself: it is what the budgets above are chosen against. Logged
  // at start with those budgets and the vehicles it leaves room for (server/memory_budget.h),
  // and exported (cit_process_memory_limit_bytes next to cit_process_resident_bytes).
  int64_t memory_limit_bytes = int64_t{1} << 30;
  // Shutdown(): how long in-flight RPCs get before they are cancelled.
  std::chrono::milliseconds shutdown_grace{5'000};
};

class DispatchServer {
 public:
  class Builder {
   public:
    explicit Builder(DispatchServerOptions options);
    ~Builder();
    Builder(const Builder&) = delete;
    Builder& operator=(const Builder&) = delete;
    Builder(Builder&&) = delete;
    Builder& operator=(Builder&&) = delete;

    // Uses this store instead of opening the configured one (options.store_backend).
    Builder& SetStore(std::shared_ptr<Store> store);
    // Registers a service on the operator port. Not owned; must outlive the server.
    Builder& AddOperatorService(grpc::Service* service);
    // Receives every committed batch (see committed_record.h). Not owned.
    Builder& AddObserver(RecordObserver* observer);
    // Called by Shutdown once everything received is committed and acked, before the gRPC
    // servers shut down: ends the operator port's endless streams (watches) at once, so clients
    // resume elsewhere instead of waiting out shutdown_grace.
    Builder& AddStreamCloser(std::function<void()> end_streams);
    // Several instances on one database: told each vehicle this instance takes over
    // (IngestOptions::on_taken_over).
    Builder& SetTakeoverListener(
        std::function<void(const std::string& vehicle, uint64_t fencing_token)> listener);
    // Authenticates operator-port calls from their metadata (TLS mode only; in insecure_dev
    // mode gRPC does not run processors, use an interceptor or check in the service).
    Builder& SetOperatorAuthProcessor(std::shared_ptr<grpc::AuthMetadataProcessor> processor);
    // Called with the operator port's TLS credentials before the port is bound (TLS mode only),
    // e.g. [&](grpc::ServerCredentials& c) { return InstallOperatorAuth(c, tokens_file); }.
    Builder& ConfigureOperatorCredentials(
        std::function<absl::Status(grpc::ServerCredentials&)> configure);
    Builder& AddOperatorInterceptor(
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory);
    // Metrics registry shared by every component; register counters before or after Start.
    MetricsRegistry& metrics() { return *metrics_; }
    // For components that may outlive the server (they keep the registry alive).
    std::shared_ptr<MetricsRegistry> shared_metrics() { return metrics_; }
    const DispatchServerOptions& options() const { return options_; }
    // The store, opening it now if SetStore was not called (so components can read it before
    // Start, e.g. to rebuild state).
    absl::StatusOr<std::shared_ptr<Store>> store();

    // Opens the store, starts the ingest, binds all ports. The builder is spent afterwards.
    absl::StatusOr<std::unique_ptr<DispatchServer>> Start();

   private:
    DispatchServerOptions options_;
    std::shared_ptr<MetricsRegistry> metrics_;
    std::shared_ptr<Store> store_;
    std::vector<grpc::Service*> operator_services_;
    std::vector<RecordObserver*> observers_;
    std::vector<std::function<void()>> stream_closers_;
    std::shared_ptr<grpc::AuthMetadataProcessor> auth_processor_;
    std::vector<std::function<absl::Status(grpc::ServerCredentials&)>> configure_operator_creds_;
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors_;
  };

  ~DispatchServer();
  DispatchServer(const DispatchServer&) = delete;
  DispatchServer& operator=(const DispatchServer&) = delete;
  DispatchServer(DispatchServer&&) = delete;
  DispatchServer& operator=(DispatchServer&&) = delete;

  // Bound ports (useful with port 0).
  int telemetry_port() const { return telemetry_port_; }
  int operator_port() const { return operator_port_; }
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }

  Store& store() { return *store_; }
  std::shared_ptr<Store> shared_store() { return store_; }
  MetricsRegistry& metrics() { return *metrics_; }
  IngestService& ingest() { return *ingest_; }

  // Graceful stop (SIGTERM): health NOT_SERVING, refuse new streams, commit everything
  // received, send the acks, end streams with UNAVAILABLE, shut both gRPC servers down (RPCs
  // still running after options.shutdown_grace are cancelled), stop the commit thread.
  // Idempotent.
  void Shutdown();

  // Whether the server accepts vehicles now: not draining, file descriptors left, telemetry
  // connections below their cap, last store commit succeeded. /healthz and grpc.health.v1 report it
  // (within options.health_interval).
  absl::Status Health() const;

 private:
  void WatchHealth();

  DispatchServer() = default;

  DispatchServerOptions options_;
  std::shared_ptr<MetricsRegistry> metrics_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<grpc::Server> telemetry_server_;
  std::unique_ptr<grpc::Server> operator_server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::vector<std::function<void()>> stream_closers_;
  // The ports' listening sockets (they hand connections to the gRPC servers).
  std::unique_ptr<ConnectionGate> telemetry_gate_;
  std::unique_ptr<ConnectionGate> operator_gate_;
  int telemetry_port_ = 0;
  int operator_port_ = 0;
  bool shut_down_ = false;
  std::atomic<bool> draining_{false};
  std::mutex health_mu_;
  std::condition_variable health_cv_;
  bool health_stop_ = false;
  std::thread health_thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_DISPATCH_SERVER_H_
