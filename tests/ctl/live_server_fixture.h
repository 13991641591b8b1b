// A live dispatch-server (TLS, bearer tokens, SQLite in a temp dir, or PostgreSQL through
// store_config_) for the ctl tests, driven
// through the real dispatchctl: tokens for dora (dispatcher), olga (operator) and aude (auditor),
// the fixed scenario (tests/ctl/scenario.h) streamed in as CIT-0001 over mTLS.
//
//   class MyTest : public cit::test::LiveServerTest {};
//   TEST_F(MyTest, Something) {
//     RunScenario();                                  // plan, dispatch, inject, wait for alerts
//     ASSERT_EQ(Ctl("aude", "audit verify " + std::string(sc::kRun)), 0) << out_ << err_;
//     StopServer();  /* edit dir_ / "dispatch.db" */  StartServer();
//   }
//
// On both store backends (issue 15): BackendLiveServerTest takes "sqlite" or "postgresql" as its
// parameter; on PostgreSQL the server keeps its store in a fresh database of the process's
// PostgreSQL (tests/support/postgres_server.h), pg_conninfo_ as the superuser.
//
//   class MyTest : public cit::test::BackendLiveServerTest {};
//   TEST_P(MyTest, Something) { ... }
//   INSTANTIATE_TEST_SUITE_P(Backends, MyTest, ::testing::Values("sqlite", "postgresql"),
//                            cit::test::BackendParamName);
//
// Thread contract: single-threaded test code.
#ifndef CIT_TESTS_CTL_LIVE_SERVER_FIXTURE_H_
#define CIT_TESTS_CTL_LIVE_SERVER_FIXTURE_H_

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "cit/v1/dispatch.pb.h"
#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/auth/token_hash.h"
#include "tests/ctl/ctl_fixtures.h"
#include "tests/ctl/scenario.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::test {

inline std::string Quote(const std::string& s) { return "'" + s + "'"; }

class LiveServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = std::make_unique<DemoCerts>(dir_ / "pki", scenario::kVehicle);
    std::ofstream tokens(dir_ / "tokens.toml");
    for (const char* who : {"dora:dispatcher", "olga:operator", "aude:auditor"}) {
      const std::string name = std::string(who).substr(0, std::string(who).find(':'));
      const std::string role = std::string(who).substr(name.size() + 1);
      const std::string token = "cit_e2e_" + name;
      std::ofstream(dir_ / (name + ".token")) << token << "\n";
      tokens << "[[token]]\nname = \"" << name << "\"\nrole = \"" << role << "\"\nsha256 = \""
             << cit::dispatch::TokenHashHex(token) << "\"\n";
    }
    std::ofstream(dir_ / "stranger.token") << "cit_not_in_the_file\n";
    tokens.close();
    telemetry_port_ = FreeTcpPort();
    operator_port_ = FreeTcpPort();
    StartServer();
    // The scenario ends 20 s before now: deadline rules on the server clock see a finished track.
    base_ = Plus(google::protobuf::util::TimeUtil::GetCurrentTime(), -370);
    base_.set_nanos(0);
  }

  void StartServer() {
    const auto pki = dir_ / "pki";
    std::ofstream(dir_ / "server.toml")
        << "[telemetry]\nlisten = \"127.0.0.1:" << telemetry_port_ << "\"\n"
        << "[operator]\nlisten = \"127.0.0.1:" << operator_port_ << "\"\n"
        << "[metrics]\nlisten = \"\"\n"
        << "[http]\nlisten = \""
        << (http_port_ != 0 ? "127.0.0.1:" + std::to_string(http_port_) : std::string()) << "\"\n"
        << "[tls]\nca = \"" << (pki / "ca.crt").string() << "\"\ncert = \""
        << (pki / "server.crt").string() << "\"\nkey = \"" << (pki / "server.key").string()
        << "\"\n"
        << "[store]\npath = \"" << (dir_ / "dispatch.db").string() << "\"\n"
        << store_config_ << "[auth]\ntokens = \"" << (dir_ / "tokens.toml").string() << "\"\n"
        << extra_config_;
    server_ = std::make_unique<Process>(
        std::vector<std::string>{BuiltProgram("dispatch-server/dispatch-server").string(),
                                 "--config", (dir_ / "server.toml").string()},
        dir_ / "server.log");
    ASSERT_TRUE(WaitFor([&] { return Ctl("aude", "plan list") == 0; }, std::chrono::seconds(20)))
        << ReadFile(dir_ / "server.log");
  }

  void StopServer() {
    server_->Signal(SIGTERM);
    server_->WaitExit(std::chrono::seconds(10));
    server_.reset();
  }

  // Runs dispatchctl as `who` (a token file name, "" for none); stdout in out_, stderr in err_.
  int Ctl(const std::string& who, const std::string& args) {
    // A generous deadline: on a loaded 2-core machine the TLS handshake alone can take seconds.
    std::string cmd = Quote(BuiltProgram("dispatchctl/dispatchctl").string()) +
                      " --timeout 60 --server localhost:" + std::to_string(operator_port_) +
                      " --ca-file " + Quote((dir_ / "pki" / "ca.crt").string());
    if (!who.empty()) cmd += " --token-file " + Quote((dir_ / (who + ".token")).string());
    cmd +=
        " " + args + " >" + Quote((dir_ / "out").string()) + " 2>" + Quote((dir_ / "err").string());
    const int rc = Shell("env -u CIT_TOKEN -u CIT_TOKEN_FILE -u CIT_SERVER " + cmd);
    out_ = ReadFile(dir_ / "out");
    err_ = ReadFile(dir_ / "err");
    return rc;
  }

  // Streams records as the vehicle (mTLS with its certificate) until all are acknowledged.
  void Inject(const std::vector<cit::v1::Record>& records,
              std::chrono::seconds deadline = std::chrono::seconds(30)) {
    const auto pki = dir_ / "pki";
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadFile(pki / "ca.crt");
    tls.pem_private_key = ReadFile(pki / (std::string(scenario::kVehicle) + ".key"));
    tls.pem_cert_chain = ReadFile(pki / (std::string(scenario::kVehicle) + ".crt"));
    auto channel = grpc::CreateChannel("localhost:" + std::to_string(telemetry_port_),
                                       grpc::SslCredentials(tls));
    auto stub = cit::v1::Telemetry::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    auto stream = stub->Stream(&ctx);
    cit::v1::AgentMessage hello;
    hello.mutable_hello()->set_vehicle_id(scenario::kVehicle);
    hello.mutable_hello()->set_first_unacked_seq(1);
    hello.mutable_hello()->set_agent_version("cli_e2e_test");
    ASSERT_TRUE(stream->Write(hello));
    cit::v1::ServerMessage reply;
    ASSERT_TRUE(stream->Read(&reply));
    ASSERT_TRUE(reply.has_welcome());
    // Batches of 500: the server refuses more than max_batch_records (1,000) in one.
    for (std::size_t first = 0; first < records.size(); first += 500) {
      cit::v1::AgentMessage batch;
      for (std::size_t i = first; i < std::min(records.size(), first + 500); ++i) {
        *batch.mutable_batch()->add_records() = records[i];
      }
      ASSERT_TRUE(stream->Write(batch));
    }
    const uint64_t last = records.back().seq();
    uint64_t acked = 0;
    while (acked < last && stream->Read(&reply)) {
      if (reply.has_ack()) acked = reply.ack().through_seq();
      EXPECT_FALSE(reply.has_rejected()) << reply.DebugString();
    }
    ASSERT_EQ(acked, last);
    stream->WritesDone();
    ctx.TryCancel();
    stream->Finish();
  }

  std::string WritePlanJson() {
    cit::v1::RunPlan plan = scenario::MakeRun(base_).plan();
    if (plan_edit_) plan_edit_(plan);
    std::string json;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    // The plan file format takes the route as [[lon, lat], ...].
    std::ostringstream points;
    points << "[";
    for (int i = 0; i < plan.route().points_size(); ++i) {
      points << (i ? "," : "") << "[" << plan.route().points(i).lon_deg() << ","
             << plan.route().points(i).lat_deg() << "]";
    }
    points << "]";
    const std::string route_json = "{\"points\":" + points.str() + ",\"corridor_half_width_m\":" +
                                   std::to_string(plan.route().corridor_half_width_m()) + "}";
    plan.clear_route();
    (void)google::protobuf::util::MessageToJsonString(plan, &json, opts);
    json.insert(1, "\"route\":" + route_json + ",");
    const auto path = dir_ / "plan.json";
    std::ofstream(path) << json;
    return path.string();
  }

  // Plans and dispatches the scenario's run, streams its records, waits for its alerts.
  void RunScenario() {
    // --force: the vehicle connects after its run is planned (a new truck).
    ASSERT_EQ(Ctl("dora", "plan create --force " + WritePlanJson()), 0) << err_;
    ASSERT_EQ(Ctl("dora", std::string("plan dispatch ") + scenario::kRun), 0) << err_;
    Inject(scenario::MakeRecords(base_));
    ASSERT_TRUE(WaitFor(
        [&] {
          return Ctl("aude", std::string("audit report ") + scenario::kRun) == 0 &&
                 out_.find("DOOR_OPEN_OUTSIDE_STOP") != std::string::npos &&
                 out_.find("ROUTE_DEVIATION") != std::string::npos;
        },
        std::chrono::seconds(20)))
        << out_ << err_;
  }

  uint64_t FirstAlertId(const std::string& kind) {
    EXPECT_EQ(Ctl("aude", std::string("--json audit report ") + scenario::kRun), 0) << err_;
    cit::v1::RunReport report;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out_, &report).ok()) << out_;
    for (const auto& a : report.alerts()) {
      if (cit::v1::AlertKind_Name(a.kind()) == "ALERT_KIND_" + kind) return a.alert_id();
    }
    ADD_FAILURE() << "no " << kind << " alert";
    return 0;
  }

  // Applied to the scenario's plan before it is written (e.g. other stop windows).
  std::function<void(cit::v1::RunPlan&)> plan_edit_;
  // Appended to the server's config file (e.g. an [audit] section), set before StartServer.
  std::string extra_config_;
  // More [store] keys (e.g. backend = "postgresql" and its connection), set before SetUp.
  std::string store_config_;
  // Non-zero (set before SetUp): the HTTP API listens there (TLS, the server's certificate).
  int http_port_ = 0;
  TempDir dir_;
  std::unique_ptr<DemoCerts> certs_;
  int telemetry_port_ = 0;
  int operator_port_ = 0;
  std::unique_ptr<Process> server_;
  google::protobuf::Timestamp base_;
  std::string out_;
  std::string err_;
};

// A LiveServerTest whose store is on the backend named by the test parameter.
class BackendLiveServerTest : public LiveServerTest,
                              public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (pg()) {
      PostgresServer* server = SharedPostgres();
      ASSERT_NE(server, nullptr);
      absl::StatusOr<std::string> db = server->CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      pg_conninfo_ = *db;
      store_config_ += "backend = \"postgresql\"\nconnection = \"" + pg_conninfo_ + "\"\n";
    }
    LiveServerTest::SetUp();
  }

  bool pg() const { return GetParam() == "postgresql"; }

  std::string pg_conninfo_;  // the database's superuser connection (PostgreSQL only)
};

inline std::string BackendParamName(const ::testing::TestParamInfo<std::string>& p) {
  return p.param;
}

}  // namespace cit::test

#endif  // CIT_TESTS_CTL_LIVE_SERVER_FIXTURE_H_
