// Operator bearer tokens and roles on a real TLS gRPC server (DESIGN §9).
#include "dispatch-server/auth/operator_auth.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/audit/audit_service.h"
#include "dispatch-server/audit/store_audit_source.h"
#include "dispatch-server/auth/grpc_log_bridge.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/ctl/ctl_fixtures.h"
#include "tests/support/log_capture.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using cit::test::DemoCerts;
using cit::test::ReadFile;
using cit::test::TempDir;

// Handlers that only record who called: the check under test happens before any handler.
class RecordingAlerts final : public cit::v1::Alerts::CallbackService {
 public:
  grpc::ServerUnaryReactor* AckAlert(grpc::CallbackServerContext* ctx,
                                     const cit::v1::AckAlertRequest* req,
                                     cit::v1::Alert* out) override {
    cit::v1::AlertAction* a = out->add_actions();
    a->set_actor(ActorName(*ctx));
    a->set_comment(req->comment());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

class RecordingDispatch final : public cit::v1::Dispatch::CallbackService {
 public:
  grpc::ServerUnaryReactor* CreateRun(grpc::CallbackServerContext* ctx,
                                      const cit::v1::CreateRunRequest* req,
                                      cit::v1::Run* out) override {
    *out->mutable_plan() = req->plan();
    out->set_created_by(ActorName(*ctx));
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

constexpr char kOperatorToken[] = "cit_operator_token_olga";
constexpr char kDispatcherToken[] = "cit_dispatcher_token_dora";
constexpr char kAuditorToken[] = "cit_auditor_token_aude";

class OperatorAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = std::make_unique<DemoCerts>(dir_.path() / "pki");
    std::ofstream tokens(dir_ / "tokens.toml");
    for (auto [name, role, token] : {std::tuple{"olga", "operator", kOperatorToken},
                                     std::tuple{"dora", "dispatcher", kDispatcherToken},
                                     std::tuple{"aude", "auditor", kAuditorToken}}) {
      tokens << "[[token]]\nname = \"" << name << "\"\nrole = \"" << role << "\"\nsha256 = \""
             << TokenHashHex(token) << "\"\n";
    }
    tokens.close();

    auto store = SqliteStore::Open(dir_ / "dispatch.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    audit_ = std::make_unique<AuditService>(std::make_shared<StoreAuditSource>(
        *store_,
        [](const std::string& id) -> absl::StatusOr<cit::v1::Run> {
          return absl::NotFoundError("no run " + id);
        },
        nullptr));

    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back(
        {ReadFile(certs_->dir / "server.key"), ReadFile(certs_->dir / "server.crt")});
    auto creds = grpc::SslServerCredentials(tls);
    ASSERT_TRUE(InstallOperatorAuth(*creds, dir_ / "tokens.toml", metrics_).ok());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", creds, &port_);
    builder.RegisterService(&alerts_);
    builder.RegisterService(&dispatch_);
    builder.RegisterService(audit_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);

    grpc::SslCredentialsOptions client_tls;
    client_tls.pem_root_certs = ReadFile(certs_->dir / "ca.crt");
    channel_ =
        grpc::CreateChannel("localhost:" + std::to_string(port_), grpc::SslCredentials(client_tls));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  static void WithToken(grpc::ClientContext& ctx, const std::string& token) {
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  }

  grpc::Status Ack(const std::string& token, cit::v1::Alert* out) {
    grpc::ClientContext ctx;
    WithToken(ctx, token);
    cit::v1::AckAlertRequest req;
    req.set_alert_id(7);
    req.set_comment("seen");
    return cit::v1::Alerts::NewStub(channel_)->AckAlert(&ctx, req, out);
  }
  grpc::Status Create(const std::string& token, cit::v1::Run* out) {
    grpc::ClientContext ctx;
    WithToken(ctx, token);
    cit::v1::CreateRunRequest req;
    req.mutable_plan()->set_run_id("R1");
    return cit::v1::Dispatch::NewStub(channel_)->CreateRun(&ctx, req, out);
  }
  grpc::Status Verify(const std::string& token) {
    grpc::ClientContext ctx;
    WithToken(ctx, token);
    cit::v1::VerifyChainRequest req;
    req.set_vehicle_id("CIT-0001");
    cit::v1::VerifyChainResponse out;
    return cit::v1::Audit::NewStub(channel_)->VerifyChain(&ctx, req, &out);
  }

  uint64_t Refusals(const std::string& reason) {
    return metrics_->GetCounter("cit_operator_refusals_total", "", {{"reason", reason}}).value();
  }

  TempDir dir_;
  std::shared_ptr<MetricsRegistry> metrics_ = std::make_shared<MetricsRegistry>();
  int port_ = 0;
  std::unique_ptr<DemoCerts> certs_;
  std::unique_ptr<SqliteStore> store_;
  RecordingAlerts alerts_;
  RecordingDispatch dispatch_;
  std::unique_ptr<AuditService> audit_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(OperatorAuthTest, MissingTokenIsUnauthenticated) {
  cit::v1::Alert alert;
  EXPECT_EQ(Ack("", &alert).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Verify("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(OperatorAuthTest, UnknownTokenIsUnauthenticated) {
  cit::v1::Alert alert;
  EXPECT_EQ(Ack("cit_not_a_known_token", &alert).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A stored hash is not a token.
  EXPECT_EQ(Ack(TokenHashHex(kOperatorToken), &alert).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(OperatorAuthTest, AuditorCannotAcknowledge) {
  cit::v1::Alert alert;
  EXPECT_EQ(Ack(kAuditorToken, &alert).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(OperatorAuthTest, OperatorCannotChangePlans) {
  cit::v1::Run run;
  EXPECT_EQ(Create(kOperatorToken, &run).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(OperatorAuthTest, HandlersSeeTheTokenNameAsActor) {
  cit::v1::Alert alert;
  ASSERT_TRUE(Ack(kOperatorToken, &alert).ok());
  ASSERT_EQ(alert.actions_size(), 1);
  EXPECT_EQ(alert.actions(0).actor(), "olga");
  cit::v1::Run run;
  ASSERT_TRUE(Create(kDispatcherToken, &run).ok());
  EXPECT_EQ(run.created_by(), "dora");
}

TEST_F(OperatorAuthTest, AuditorReachesAuditService) {
  // Authorised: the handler runs and answers NOT_FOUND for a vehicle without records.
  EXPECT_EQ(Verify(kAuditorToken).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Verify(kOperatorToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(OperatorAuthTest, DuplicateAuthorizationHeadersAreRefused) {
  // The first header used to win: a proxy that appends its own header could be bypassed.
  for (const auto& [first, second] : {std::pair{kOperatorToken, "cit_not_a_known_token"},
                                      std::pair{"cit_not_a_known_token", kOperatorToken},
                                      std::pair{kOperatorToken, kOperatorToken}}) {
    grpc::ClientContext ctx;
    WithToken(ctx, first);
    WithToken(ctx, second);
    cit::v1::AckAlertRequest req;
    req.set_alert_id(7);
    cit::v1::Alert out;
    grpc::Status st = cit::v1::Alerts::NewStub(channel_)->AckAlert(&ctx, req, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_NE(st.error_message().find("more than one authorization header"), std::string::npos)
        << st.error_message();
  }
  EXPECT_EQ(Refusals("duplicate_authorization"), 3u);
  cit::v1::Alert alert;
  EXPECT_TRUE(Ack(kOperatorToken, &alert).ok()) << "one header still works";
}

TEST_F(OperatorAuthTest, WrongTokenFloodIsCountedExactlyButLoggedBounded) {
  // 2,000 wrong-token calls used to write 2,052 warning lines.
  test::LogCapture log;
  constexpr int kCalls = 2000;
  cit::v1::Alert alert;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_EQ(Ack("cit_wrong_token_" + std::to_string(i), &alert).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Ack("", &alert).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(Refusals("unknown_token"), static_cast<uint64_t>(kCalls));
  EXPECT_EQ(Refusals("missing_token"), 5u);
  const size_t lines = log.Lines().size();
  EXPECT_LE(lines, 2 * RefusalLogOptions{}.burst + 2) << "a burst per reason, then a summary";
  EXPECT_EQ(log.CountContaining("reason=unknown_token"), RefusalLogOptions{}.burst);
}

TEST_F(OperatorAuthTest, FailedTlsHandshakesAreCountedAndLoggedBounded) {
  // gRPC has no hook for a failed handshake; its own log line is the one signal (see
  // auth/grpc_log_bridge.h). Plaintext HTTP/2 against the TLS port fails the handshake.
  InstallGrpcLogBridge(metrics_);
  test::LogCapture log;
  const uint64_t before = metrics_->GetCounter("cit_tls_handshake_failures_total", "").value();
  constexpr int kAttempts = 30;
  for (int i = 0; i < kAttempts; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a new connection every time
    auto plain = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                           grpc::InsecureChannelCredentials(), args);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    cit::v1::AckAlertRequest req;
    cit::v1::Alert out;
    EXPECT_FALSE(cit::v1::Alerts::NewStub(plain)->AckAlert(&ctx, req, &out).ok());
  }
  Counter& failures = metrics_->GetCounter("cit_tls_handshake_failures_total", "");
  ASSERT_TRUE(test::WaitFor([&] { return failures.value() - before >= kAttempts; }))
      << failures.value() - before;
  EXPECT_LE(log.CountContaining("event=tls_handshake_failed"), RefusalLogOptions{}.burst);
}

// Issue 10, 4.9: a token file path that names a device must not be read without end.
TEST(TokenFileTest, DeviceIsRefusedWithoutReadingIt) {
  auto tokens = TokenFile::Load("/dev/zero");
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tokens.status().message().find("not a regular file"), std::string::npos)
      << tokens.status();
}

TEST(TokenFileTest, RejectsBadEntriesWithTheirField) {
  auto bad_role = TokenFile::Parse(
      "[[token]]\nname='a'\nrole='root'\nsha256='" + std::string(64, 'a') + "'\n", "t.toml");
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.status().message().find("token[0].role"), std::string::npos);
  auto bad_hash = TokenFile::Parse("[[token]]\nname='a'\nrole='admin'\nsha256='xyz'\n", "t.toml");
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_NE(bad_hash.status().message().find("sha256"), std::string::npos);
}

TEST(PermissionTableTest, UnlistedMethodsAreForAdminsOnly) {
  PermissionTable t = PermissionTable::Default();
  EXPECT_FALSE(t.Allows("/cit.v1.Secret/Do", Role::kDispatcher));
  EXPECT_TRUE(t.Allows("/cit.v1.Secret/Do", Role::kAdmin));
  EXPECT_TRUE(t.Allows("/cit.v1.Audit/GetRunReport", Role::kDispatcher));
  EXPECT_FALSE(t.Allows("/cit.v1.Audit/GetRunReport", Role::kOperator));
}

}  // namespace
}  // namespace cit::dispatch
