// A whole dispatch-server in-process for the HTTP API tests, wired as dispatch-server's main
// wires it: TLS gRPC ports with bearer tokens (or insecure_dev), run monitoring and alerts, the
// audit service, and the HTTP server on a free port; a telemetry client plays the truck.
//
//   static TestCerts* certs = new TestCerts({"CIT-1"});
//   LiveServer server(dir.path(), *certs, options);     // options: HttpOptions tweaks
//   HttpTestClient http(server.http_port(), certs->Read("ca.crt"));
//   server.RaisePanic("CIT-1", 1);                      // a record that raises an alert
//
// A non-empty postgres_connection (the last constructor argument) keeps records, runs, alerts
// and monitor snapshots in that PostgreSQL database ([store] backend = "postgresql").
//
// Thread contract: single-threaded test code.
#ifndef CIT_TESTS_DISPATCH_HTTP_API_FIXTURE_H_
#define CIT_TESTS_DISPATCH_HTTP_API_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "dispatch-server/audit/audit_service.h"
#include "dispatch-server/audit/store_audit_source.h"
#include "dispatch-server/auth/operator_auth.h"
#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/http/http_server.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/run_monitoring.h"
#include "tests/dispatch/http_test_client.h"
#include "tests/dispatch/telemetry_test_client.h"

namespace cit::test {

constexpr char kOperatorToken[] = "cit_http_operator_token_olga";
constexpr char kDispatcherToken[] = "cit_http_dispatcher_token_dora";
constexpr char kAuditorToken[] = "cit_http_auditor_token_aude";

// A wall clock the test moves by hand (session expiry without sleeping).
class TestWallClock {
 public:
  std::chrono::system_clock::time_point Now() const {
    return std::chrono::system_clock::now() + std::chrono::seconds(offset_s_.load());
  }
  void Advance(std::chrono::seconds s) { offset_s_ += s.count(); }
  dispatch::WallClock AsFunction() {
    return [this] { return Now(); };
  }

 private:
  std::atomic<int64_t> offset_s_{0};
};

inline void WriteTokenFile(const std::filesystem::path& path) {
  std::ofstream tokens(path);
  for (auto [name, role, token] : {std::tuple{"olga", "operator", kOperatorToken},
                                   std::tuple{"dora", "dispatcher", kDispatcherToken},
                                   std::tuple{"aude", "auditor", kAuditorToken}}) {
    tokens << "[[token]]\nname = \"" << name << "\"\nrole = \"" << role << "\"\nsha256 = \""
           << dispatch::TokenHashHex(token) << "\"\n";
  }
}

class LiveServer {
 public:
  LiveServer(const std::filesystem::path& dir, const TestCerts& certs,
             dispatch::HttpOptions http_options = {}, bool insecure = false,
             TestWallClock* clock = nullptr, std::string postgres_connection = "")
      : certs_(certs), insecure_(insecure), postgres_connection_(std::move(postgres_connection)) {
    Init(dir, certs, std::move(http_options), insecure, clock);
  }

  ~LiveServer() { Stop(); }

  // The constructor's work (gtest's ASSERT_* needs a void function).
  void Init(const std::filesystem::path& dir, const TestCerts& certs,
            dispatch::HttpOptions http_options, bool insecure, TestWallClock* clock) {
    const auto tokens = dir / "tokens.toml";
    if (!std::filesystem::exists(tokens)) WriteTokenFile(tokens);
    dispatch::DispatchServerOptions o;
    o.telemetry_address = "127.0.0.1:0";
    o.operator_address = "127.0.0.1:0";
    o.metrics_address = "";
    o.insecure_dev = insecure;
    o.tls = {certs.File("ca.crt"), certs.File("server.crt"), certs.File("server.key")};
    o.database_path = dir / "dispatch.db";
    o.durability = dispatch::sqlite::Durability::kNormal;
    o.shutdown_grace = std::chrono::milliseconds(500);
    if (!postgres_connection_.empty()) {  // the store in PostgreSQL (issue 15)
      o.store_backend = dispatch::DispatchServerOptions::StoreBackend::kPostgresql;
      o.postgres_connection = postgres_connection_;
    }
    builder_ = std::make_unique<dispatch::DispatchServer::Builder>(o);
    builder_->ConfigureOperatorCredentials([tokens](grpc::ServerCredentials& creds) {
      return dispatch::InstallOperatorAuth(creds, tokens);
    });
    auto store = builder_->store();
    ASSERT_TRUE(store.ok()) << store.status();
    dispatch::RunMonitoringOptions rm;
    rm.database_path = o.database_path;
    rm.postgres_connection = postgres_connection_;
    rm.alert_durability = dispatch::sqlite::Durability::kNormal;
    rm.fleet_throttle = std::chrono::milliseconds(100);
    auto monitoring = dispatch::RunMonitoring::Open(rm, &monitor_clock_);
    ASSERT_TRUE(monitoring.ok()) << monitoring.status();
    monitoring_ = std::move(*monitoring);
    monitoring_->Register(*builder_);
    dispatch::RunManager* runs = &monitoring_->runs();
    dispatch::AlertManager* alerts = &monitoring_->alerts();
    audit_ = std::make_unique<dispatch::AuditService>(std::make_shared<dispatch::StoreAuditSource>(
        **store, [runs](const std::string& id) { return runs->Get(id); },
        [alerts](const std::string& id) -> absl::StatusOr<std::vector<cit::v1::Alert>> {
          dispatch::AlertFilter filter;
          filter.run_id = id;
          return alerts->List(filter);
        }));
    builder_->AddOperatorService(audit_.get());
    auto server = builder_->Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    monitoring_->Start();

    auto token_file = dispatch::TokenFile::Load(tokens);
    ASSERT_TRUE(token_file.ok()) << token_file.status();
    dispatch::HttpServerDeps deps;
    http_options.listen = "127.0.0.1:0";
    http_options.loopback_ca = certs.File("ca.crt");
    deps.options = http_options;
    deps.insecure_dev = insecure;
    deps.tls = o.tls;
    deps.operator_target = "127.0.0.1:" + std::to_string(server_->operator_port());
    deps.tokens = std::make_shared<const dispatch::TokenFile>(*std::move(token_file));
    deps.metrics = &server_->metrics();
    if (clock != nullptr) deps.clock = clock->AsFunction();
    auto http = dispatch::HttpServer::Start(std::move(deps));
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = std::move(*http);
  }

  void Stop() {
    if (http_) http_->Stop();
    if (server_) server_->Shutdown();
    if (monitoring_) monitoring_->Stop();
    http_.reset();
    server_.reset();
    monitoring_.reset();
  }

  bool started() const { return http_ != nullptr; }
  int http_port() const { return http_->port(); }
  int operator_port() const { return server_->operator_port(); }
  dispatch::DispatchServer& server() { return *server_; }
  dispatch::HttpServer& http() { return *http_; }
  dispatch::RunMonitoring& monitoring() { return *monitoring_; }
  std::string ca() const { return insecure_ ? "" : certs_.Read("ca.crt"); }
  HttpTestClient Client() const { return HttpTestClient(http_port(), ca()); }

  // Sends `record` as `vehicle` (sequence record.seq()) over the telemetry port and waits for
  // its ack.
  void SendRecord(const std::string& vehicle, cit::v1::Record record) {
    std::shared_ptr<grpc::Channel> channel =
        insecure_ ? grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->telemetry_port()),
                                        grpc::InsecureChannelCredentials())
                  : certs_.Channel(server_->telemetry_port(), vehicle);
    TelemetryTestClient agent(channel);
    ASSERT_GE(agent.Hello(vehicle, record.seq()), 0);
    record.set_vehicle_id(vehicle);
    cit::v1::RecordBatch batch;
    *batch.add_records() = record;
    ASSERT_TRUE(agent.Send(batch));
    ASSERT_TRUE(agent.WaitAck(record.seq()));
    agent.Close();
  }

  // A panic record (raises a critical PANIC alert).
  void RaisePanic(const std::string& vehicle, uint64_t seq) {
    cit::v1::Record r = MakeFix(seq);
    r.clear_fix();
    r.mutable_panic()->set_source("test:" + std::to_string(seq));
    SendRecord(vehicle, r);
  }

  // A fix at lat/lon heading 90 degrees at 12 m/s.
  void SendFix(const std::string& vehicle, uint64_t seq, double lat, double lon) {
    cit::v1::Record r = MakeFix(seq, lat, lon);
    r.mutable_fix()->set_track_deg(90);
    SendRecord(vehicle, r);
  }

  // A gRPC channel to the operator port (TLS, trusting the demo CA).
  std::shared_ptr<grpc::Channel> OperatorChannel() const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = certs_.Read("ca.crt");
    return grpc::CreateChannel("localhost:" + std::to_string(server_->operator_port()),
                               grpc::SslCredentials(ssl));
  }

 private:
  const TestCerts& certs_;
  bool insecure_;
  std::string postgres_connection_;  // empty: SQLite
  dispatch::SystemClock monitor_clock_;
  std::unique_ptr<dispatch::DispatchServer::Builder> builder_;
  std::unique_ptr<dispatch::RunMonitoring> monitoring_;
  std::unique_ptr<dispatch::AuditService> audit_;
  std::unique_ptr<dispatch::DispatchServer> server_;
  std::unique_ptr<dispatch::HttpServer> http_;
};

// A signed-in browser: the session cookie and CSRF token.
struct BrowserSession {
  std::string cookie;  // "cit_session=..."
  std::string csrf;
  HttpReply reply;  // the sign-in answer

  Headers WithCookie(bool csrf_header = true) const {
    Headers h = {{"Cookie", cookie}};
    if (csrf_header) h.emplace_back("X-CSRF-Token", csrf);
    return h;
  }
};

inline BrowserSession SignIn(const HttpTestClient& http, const std::string& token) {
  BrowserSession s;
  s.reply = http.Request("POST", "/api/v1/session", "{\"token\":\"" + token + "\"}");
  std::string set_cookie = s.reply.Header("set-cookie");
  s.cookie = set_cookie.substr(0, set_cookie.find(';'));
  nlohmann::json j = s.reply.Json();
  if (j.is_object() && j.contains("csrfToken")) s.csrf = j["csrfToken"].get<std::string>();
  return s;
}

}  // namespace cit::test

#endif  // CIT_TESTS_DISPATCH_HTTP_API_FIXTURE_H_
