// Health means "accepting vehicles" (issue 10, 4.3): a failing store commit (e.g. disk full)
// and a nearly exhausted descriptor table turn /healthz to 503 and grpc.health.v1 to
// NOT_SERVING, and both recover on their own.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/fd_limit.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using namespace std::chrono_literals;
using test::Fixes;
using test::TelemetryTestClient;

// grpc.health.v1.Health/Check for service ""; true when SERVING (field 1 = 1: bytes 08 01).
bool GrpcServing(int port) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1), response;
  auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::Status st;
  call->Finish(&response, &st, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || !ok || !st.ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes == std::string("\x08\x01", 2);
}

void Exec(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_busy_timeout(h, 10'000);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_free(err);
  sqlite3_close(h);
}

TEST(HealthTest, AFailingCommitMakesTheServerNotServingUntilCommitsSucceed) {
  test::TempDir dir;
  DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:0";
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.insecure_dev = true;
  o.database_path = dir / "dispatch.db";
  o.health_interval = 20ms;
  auto server = DispatchServer::Builder(o).Start();
  ASSERT_TRUE(server.ok()) << server.status();
  DispatchServer& s = **server;
  ASSERT_TRUE(s.Health().ok()) << s.Health();
  ASSERT_TRUE(GrpcServing(s.telemetry_port()));

  // A real SQLite failure on every insert into records, as a full disk would cause.
  Exec(o.database_path,
       "CREATE TRIGGER fail_inserts BEFORE INSERT ON records "
       "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;");
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(s.telemetry_port()),
                                     grpc::InsecureChannelCredentials());
  {
    TelemetryTestClient agent(channel);
    ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
    ASSERT_TRUE(agent.Send(Fixes(1, 3)));
    EXPECT_FALSE(agent.WaitAck(3));  // the stream ends UNAVAILABLE: commit failed
  }
  ASSERT_FALSE(s.Health().ok());
  EXPECT_NE(std::string(s.Health().message()).find("disk is full"), std::string::npos)
      << s.Health();
  ASSERT_TRUE(test::WaitFor([&] { return !GrpcServing(s.telemetry_port()); }));
  EXPECT_FALSE(GrpcServing(s.operator_port()));

  // The disk has room again: the agent's resend commits and health follows.
  Exec(o.database_path, "DROP TRIGGER fail_inserts;");
  {
    TelemetryTestClient agent(channel);
    ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
    ASSERT_TRUE(agent.Send(Fixes(1, 3)));
    ASSERT_TRUE(agent.WaitAck(3));
  }
  EXPECT_TRUE(s.Health().ok()) << s.Health();
  ASSERT_TRUE(test::WaitFor([&] { return GrpcServing(s.telemetry_port()); }));
}

// In a child process (the limit is process-wide): with a lowered RLIMIT_NOFILE, idle sockets
// eat the headroom, FdHeadroom reports it before the table is full, and recovers when they close.
TEST(HealthTest, FdHeadroomReportsNearExhaustionAndRecovers) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int open = OpenFdCount();
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = static_cast<rlim_t>(open + 200);
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) _exit(10);
    if (!FdHeadroom(64).ok()) _exit(11);
    std::vector<int> fds;
    while (FdHeadroom(64).ok()) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) _exit(12);  // ran out before the health check noticed
      fds.push_back(fd);
    }
    if (fds.size() < 100) _exit(13);
    for (int fd : fds) ::close(fd);
    _exit(FdHeadroom(64).ok() ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(HealthTest, StartUpRaisesTheSoftFdLimitToTheHardLimit) {
  const FdLimits l = RaiseFdLimit();
  EXPECT_EQ(l.soft, l.hard);
  EXPECT_GE(l.soft, l.soft_before);
  EXPECT_EQ(SoftFdLimit(), l.hard);
}

}  // namespace
}  // namespace cit::dispatch
