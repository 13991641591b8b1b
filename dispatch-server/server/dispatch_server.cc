#include "dispatch-server/server/dispatch_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "dispatch-server/metrics/process_memory.h"
#include "dispatch-server/server/fd_limit.h"
#include "dispatch-server/server/lock_graph.h"
#include "dispatch-server/server/memory_budget.h"
#include "dispatch-server/store/postgres_store.h"
#include "dispatch-server/store/sqlite_store.h"

namespace cit::dispatch {

namespace {

void ApplyChannelArgs(grpc::ServerBuilder& b, const DispatchServerOptions& o) {
  // gRPC sets SO_REUSEPORT by default: a second server on a taken port would silently share
  // it and take half of the vehicles. A taken port must be an error at start.
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(o.keepalive_time.count()));
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                       static_cast<int>(o.keepalive_timeout.count()));
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  b.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                       static_cast<int>(o.handshake_timeout.count()));
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                       static_cast<int>(o.min_client_ping_interval.count()));
}

}  // namespace

DispatchServer::Builder::Builder(DispatchServerOptions options)
    : options_(std::move(options)), metrics_(std::make_shared<MetricsRegistry>()) {}

DispatchServer::Builder::~Builder() = default;

DispatchServer::Builder& DispatchServer::Builder::SetStore(std::shared_ptr<Store> store) {
  store_ = std::move(store);
  return *this;
}

DispatchServer::Builder& DispatchServer::Builder::AddOperatorService(grpc::Service* service) {
  operator_services_.push_back(service);
  return *this;
}

DispatchServer::Builder& DispatchServer::Builder::AddObserver(RecordObserver* observer) {
  observers_.push_back(observer);
  return *this;
}

DispatchServer::Builder& DispatchServer::Builder::AddStreamCloser(
    std::function<void()> end_streams) {
  stream_closers_.push_back(std::move(end_streams));
  return *this;
}

DispatchServer::Builder& DispatchServer::Builder::SetTakeoverListener(
    std::function<void(const std::string& vehicle, uint64_t fencing_token)> listener) {
  options_.ingest.on_taken_over = std::move(listener);
  return *this;
}

DispatchServer::Builder& DispatchServer::Builder::SetOperatorAuthProcessor(
    std::shared_ptr<grpc::AuthMetadataProcessor> processor) {
  auth_processor_ = std::move(processor);
  return *this;
}

DispatchServer::Builder& DispatchServer::Builder::ConfigureOperatorCredentials(
    std::function<absl::Status(grpc::ServerCredentials&)> configure) {
  configure_operator_creds_.push_back(std::move(configure));
  return *this;
}

DispatchServer::Builder& DispatchServer::Builder::AddOperatorInterceptor(
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory) {
  interceptors_.push_back(std::move(factory));
  return *this;
}

absl::StatusOr<std::shared_ptr<Store>> DispatchServer::Builder::store() {
  if (!store_ && options_.store_backend == DispatchServerOptions::StoreBackend::kPostgresql) {
    PostgresStoreOptions po;
    po.connection = options_.postgres_connection;
    po.pool_size = options_.postgres_pool_size;
    po.instance = options_.postgres_instance;
    po.reject_samples_per_reason = options_.reject_samples_per_reason;
    absl::StatusOr<std::unique_ptr<PostgresStore>> opened = PostgresStore::Open(po);
    if (!opened.ok()) return opened.status();
    store_ = std::shared_ptr<Store>(std::move(*opened));
  }
  if (!store_) {
    SqliteStoreOptions so;
    so.durability = options_.durability;
    so.reject_samples_per_reason = options_.reject_samples_per_reason;
    absl::StatusOr<std::unique_ptr<SqliteStore>> opened =
        SqliteStore::Open(options_.database_path, so);
    if (!opened.ok()) return opened.status();
    store_ = std::shared_ptr<Store>(std::move(*opened));
  }
  return store_;
}

absl::StatusOr<std::unique_ptr<DispatchServer>> DispatchServer::Builder::Start() {
  // Every vehicle stream holds a descriptor; the usual soft limit of 1,024 runs out first.
  const FdLimits fds = RaiseFdLimit();
  spdlog::info("event=fd_limit soft_before={} soft={} hard={}", fds.soft_before, fds.soft,
               fds.hard);
  // gRPC's absl mutexes would feed a lock-order graph that grows with the connections.
  StopAbslLockGraph();
  LogMemoryPlan(PlanMemory(options_), options_);
  RegisterProcessMemoryMetrics(*metrics_, options_.memory_limit_bytes);
  std::unique_ptr<DispatchServer> server(new DispatchServer());
  server->options_ = options_;
  server->metrics_ = metrics_;
  absl::StatusOr<std::shared_ptr<Store>> store = this->store();
  if (!store.ok()) return store.status();
  server->store_ = *store;

  // Credentials.
  std::shared_ptr<grpc::ServerCredentials> telemetry_creds, operator_creds;
  IngestOptions ingest_options = options_.ingest;
  ingest_options.take_ownership = !options_.postgres_instance.empty();
  if (options_.insecure_dev) {
    spdlog::warn(
        "event=insecure_dev note=\"plaintext gRPC, no client certificates, vehicle id taken "
        "from Hello: development only\"");
    telemetry_creds = grpc::InsecureServerCredentials();
    operator_creds = grpc::InsecureServerCredentials();
    ingest_options.identity_from_hello = true;
  } else {
    absl::StatusOr<std::string> ca = ReadTextFile(options_.tls.ca_file);
    if (!ca.ok())
      return absl::Status(ca.status().code(), absl::StrCat("tls.ca: ", ca.status().message()));
    absl::StatusOr<std::string> cert = ReadTextFile(options_.tls.cert_file);
    if (!cert.ok()) {
      return absl::Status(cert.status().code(),
                          absl::StrCat("tls.cert: ", cert.status().message()));
    }
    absl::StatusOr<std::string> key = ReadTextFile(options_.tls.key_file);
    if (!key.ok()) {
      return absl::Status(key.status().code(), absl::StrCat("tls.key: ", key.status().message()));
    }
    grpc::SslServerCredentialsOptions mtls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    mtls.pem_root_certs = *ca;
    mtls.pem_key_cert_pairs.push_back({*key, *cert});
    telemetry_creds = grpc::SslServerCredentials(mtls);
    grpc::SslServerCredentialsOptions tls(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    tls.pem_key_cert_pairs.push_back({*key, *cert});
    operator_creds = grpc::SslServerCredentials(tls);
    if (auth_processor_) operator_creds->SetAuthMetadataProcessor(auth_processor_);
    for (auto& configure : configure_operator_creds_) {
      if (absl::Status s = configure(*operator_creds); !s.ok()) return s;
    }
    ingest_options.identity_from_hello = false;
  }

  server->ingest_ =
      std::make_unique<IngestService>(server->store_.get(), metrics_.get(), ingest_options);
  for (RecordObserver* o : observers_) server->ingest_->AddObserver(o);
  server->stream_closers_ = std::move(stream_closers_);
  if (absl::Status s = server->ingest_->Start(); !s.ok()) return s;

  grpc::EnableDefaultHealthCheckService(true);
  // Server reflection lets operators use grpcurl; it also gives the operator port a service
  // when no operator service is registered yet (gRPC refuses to start a server without one).
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // The listening sockets are the gates' (connection_gate.h): gRPC 1.51 would stop listening
  // for good after one accept() failed with EMFILE.
  using ConnectionType = grpc::ServerBuilder::experimental_type::ExternalConnectionType;
  absl::StatusOr<std::unique_ptr<ConnectionGate>> telemetry_gate =
      ConnectionGate::Listen(options_.telemetry_address,
                             {.name = "telemetry",
                              .fd_reserve = options_.fd_reserve,
                              .max_connections = options_.telemetry_max_connections},
                             metrics_.get());
  if (!telemetry_gate.ok()) {
    server->ingest_->Stop();
    return absl::UnavailableError(
        absl::StrCat("telemetry address: ", telemetry_gate.status().message()));
  }
  server->telemetry_gate_ = *std::move(telemetry_gate);
  server->telemetry_port_ = server->telemetry_gate_->port();
  absl::StatusOr<std::unique_ptr<ConnectionGate>> operator_gate =
      ConnectionGate::Listen(options_.operator_address,
                             {.name = "operator",
                              .fd_reserve = options_.fd_reserve / 2,
                              .max_connections = options_.operator_max_connections},
                             metrics_.get());
  if (!operator_gate.ok()) {
    server->ingest_->Stop();
    return absl::UnavailableError(
        absl::StrCat("operator address: ", operator_gate.status().message()));
  }
  server->operator_gate_ = *std::move(operator_gate);
  server->operator_port_ = server->operator_gate_->port();
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> telemetry_acceptor,
      operator_acceptor;
  {
    grpc::ServerBuilder b;
    telemetry_acceptor =
        b.experimental().AddExternalConnectionAcceptor(ConnectionType::FROM_FD, telemetry_creds);
    b.RegisterService(server->ingest_.get());
    b.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
    if (options_.telemetry_memory_quota_bytes > 0) {
      grpc::ResourceQuota quota("telemetry");
      quota.Resize(static_cast<size_t>(options_.telemetry_memory_quota_bytes));
      b.SetResourceQuota(quota);
    }
    if (options_.telemetry_stream_window_bytes > 0) {
      b.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
      b.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                           options_.telemetry_stream_window_bytes);
      b.AddChannelArgument(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE,
                           std::max(options_.telemetry_stream_window_bytes, 8 << 10));
    }
    if (options_.telemetry_tls_frame_bytes > 0) {
      b.AddChannelArgument(GRPC_ARG_TSI_MAX_FRAME_SIZE, options_.telemetry_tls_frame_bytes);
    }
    ApplyChannelArgs(b, options_);
    server->telemetry_server_ = b.BuildAndStart();
    if (!server->telemetry_server_) {
      server->ingest_->Stop();
      return absl::UnavailableError("cannot start the telemetry gRPC server");
    }
  }
  {
    grpc::ServerBuilder b;
    operator_acceptor =
        b.experimental().AddExternalConnectionAcceptor(ConnectionType::FROM_FD, operator_creds);
    for (grpc::Service* s : operator_services_) b.RegisterService(s);
    ApplyChannelArgs(b, options_);
    if (!interceptors_.empty()) b.experimental().SetInterceptorCreators(std::move(interceptors_));
    server->operator_server_ = b.BuildAndStart();
    if (!server->operator_server_) {
      server->telemetry_server_->Shutdown();
      server->ingest_->Stop();
      return absl::UnavailableError("cannot start the operator gRPC server");
    }
  }
  server->telemetry_gate_->Start(std::move(telemetry_acceptor));
  server->operator_gate_->Start(std::move(operator_acceptor));
  for (grpc::Server* s : {server->telemetry_server_.get(), server->operator_server_.get()}) {
    if (auto* health = s->GetHealthCheckService()) health->SetServingStatus(true);
  }
  if (!options_.metrics_address.empty()) {
    server->metrics_http_ = std::make_unique<MetricsHttpServer>(metrics_);
    server->metrics_http_->SetHealthCheck([s = server.get()] { return s->Health(); });
    if (absl::Status s = server->metrics_http_->Start(options_.metrics_address); !s.ok()) {
      server->Shutdown();
      return s;
    }
  }
  spdlog::info(
      "event=server_started telemetry_port={} operator_port={} metrics_port={} database={} "
      "tls={}",
      server->telemetry_port_, server->operator_port_, server->metrics_port(),
      options_.database_path.string(), options_.insecure_dev ? "off" : "mtls");
  server->health_thread_ = std::thread([s = server.get()] { s->WatchHealth(); });
  return server;
}

absl::Status DispatchServer::Health() const {
  if (draining_.load()) return absl::UnavailableError("draining");
  if (absl::Status s = FdHeadroom(options_.fd_reserve); !s.ok()) return s;
  if (telemetry_gate_ && telemetry_gate_->ShortOfFds()) {
    return absl::UnavailableError(
        "file descriptors nearly exhausted: vehicle connections are refused");
  }
  if (telemetry_gate_ && telemetry_gate_->Saturated()) {
    return absl::UnavailableError(absl::StrCat("telemetry connections at their cap (",
                                               options_.telemetry_max_connections,
                                               "): cannot accept vehicles"));
  }
  if (ingest_) {
    if (absl::Status s = ingest_->LastCommitStatus(); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("store commit failing: ", s.message()));
    }
  }
  return absl::OkStatus();
}

void DispatchServer::WatchHealth() {
  bool serving = true;
  std::unique_lock<std::mutex> lock(health_mu_);
  while (!health_stop_) {
    lock.unlock();
    const absl::Status h = Health();
    if (h.ok() != serving && !draining_.load()) {
      serving = h.ok();
      if (serving) {
        spdlog::info("event=health_serving");
      } else {
        spdlog::warn("event=health_not_serving reason=\"{}\"", std::string(h.message()));
      }
      for (grpc::Server* s : {telemetry_server_.get(), operator_server_.get()}) {
        if (auto* health = s->GetHealthCheckService()) health->SetServingStatus(serving);
      }
    }
    lock.lock();
    health_cv_.wait_for(lock, options_.health_interval, [this] { return health_stop_; });
  }
}

DispatchServer::~DispatchServer() { Shutdown(); }

void DispatchServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  draining_.store(true);
  if (health_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(health_mu_);
      health_stop_ = true;
    }
    health_cv_.notify_all();
    health_thread_.join();
  }
  spdlog::info("event=shutdown_started");
  for (grpc::Server* s : {telemetry_server_.get(), operator_server_.get()}) {
    if (s != nullptr) {
      if (auto* health = s->GetHealthCheckService()) health->SetServingStatus(false);
    }
  }
  if (metrics_http_) metrics_http_->SetHealthy(false);
  // No new connections from here on; those already handed to gRPC drain below.
  if (telemetry_gate_) telemetry_gate_->Stop();
  if (operator_gate_) operator_gate_->Stop();
  if (ingest_) ingest_->Drain();
  for (const auto& end_streams : stream_closers_) end_streams();
  const auto deadline = std::chrono::system_clock::now() + options_.shutdown_grace;
  if (telemetry_server_) telemetry_server_->Shutdown(deadline);
  if (operator_server_) operator_server_->Shutdown(deadline);
  if (ingest_) ingest_->Stop();
  if (metrics_http_) metrics_http_->Stop();
  spdlog::info("event=shutdown_complete");
}

}  // namespace cit::dispatch
