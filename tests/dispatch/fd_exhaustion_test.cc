// A flood of idle unauthenticated TCP connections beyond the file-descriptor limit (issue 10,
// 4.3): the built dispatch-server, started with RLIMIT_NOFILE 256, keeps answering /healthz and
// grpc.health.v1 (both say "not accepting vehicles" during the flood), and once the flood
// closes, a vehicle connects over mTLS and its records are stored again, without a restart.
// gRPC 1.51 alone stops listening for good after accept() fails with EMFILE.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "dispatch-server/server/dispatch_server.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/http_get.h"

namespace cit::dispatch {
namespace {

using namespace std::chrono_literals;
using test::Fixes;
using test::TelemetryTestClient;

constexpr int kServerFdLimit = 256;
constexpr int kFloodConnections = 400;

// A connected TCP socket to 127.0.0.1:port with 3 s send/receive timeouts; -1 on failure.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{.tv_sec = 3, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET `path` on the metrics port: the whole answer, "" when none came within 3 s.
std::string HttpGet(int port, const std::string& path) {
  return cit::test::HttpGet(port, path, std::chrono::seconds(3));
}

// GET /healthz: the status code, or -1 when no answer came.
int Healthz(int port) {
  const std::string answer = HttpGet(port, "/healthz");
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) return -1;
  return std::atoi(answer.substr(9, 3).c_str());
}

// The value of one sample line of /metrics ("name{labels}"), or -1.
double MetricValue(int port, const std::string& sample) {
  return cit::test::MetricValue(HttpGet(port, "/metrics"), sample).value_or(-1);
}

// grpc.health.v1.Health/Check "" over a fresh channel: 1 SERVING, 0 NOT_SERVING, -1 no answer.
int GrpcHealth(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 3s);
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1), response;
  auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::Status st;
  call->Finish(&response, &st, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!cq.Next(&tag, &ok) || !ok || !st.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes == std::string("\x08\x01", 2) ? 1 : 0;
}

// The operator port: server TLS, no client certificate; the health service needs no token.
std::shared_ptr<grpc::Channel> OperatorChannel(const test::TestCerts& certs, int port) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = certs.Read("ca.crt");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a new connection each time
  return grpc::CreateCustomChannel("localhost:" + std::to_string(port), grpc::SslCredentials(o),
                                   args);
}

TEST(FdExhaustionTest, IdleConnectionFloodBeyondTheFdLimitIsSurvivedAndVehiclesReconnect) {
  // The test process itself holds the flood's sockets.
  rlimit r{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &r), 0);
  r.rlim_cur = r.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &r), 0);
  ASSERT_GE(r.rlim_cur, static_cast<rlim_t>(kFloodConnections + 100));

  test::TestCerts certs({"CIT-1"});
  test::TempDir dir;
  const int telemetry = test::FreeTcpPort();
  const int operator_port = test::FreeTcpPort();
  const int metrics = test::FreeTcpPort();
  const std::string limit = std::to_string(kServerFdLimit);
  // prlimit lowers soft and hard limit, so the server's raise-to-hard finds 256 too.
  std::vector<std::string> argv = {"prlimit",
                                   "--nofile=" + limit + ":" + limit,
                                   "--",
                                   test::BuiltProgram("dispatch-server/dispatch-server").string(),
                                   "--telemetry-listen",
                                   "127.0.0.1:" + std::to_string(telemetry),
                                   "--operator-listen",
                                   "127.0.0.1:" + std::to_string(operator_port),
                                   "--metrics-listen",
                                   "127.0.0.1:" + std::to_string(metrics),
                                   "--http-listen",
                                   "",
                                   "--database",
                                   (dir / "dispatch.db").string()};
  const std::vector<std::string> tls = certs.ServerTlsArgs();
  argv.insert(argv.end(), tls.begin(), tls.end());
  test::Process server(argv, dir / "server.log");
  {
    auto channel = certs.Channel(telemetry, "CIT-1");
    ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + 15s))
        << test::ReadFile(dir / "server.log");
    TelemetryTestClient agent(channel);
    ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
    ASSERT_TRUE(agent.Send(Fixes(1, 3)));
    ASSERT_TRUE(agent.WaitAck(3));
  }
  ASSERT_TRUE(test::WaitFor([&] { return Healthz(metrics) == 200; }));
  ASSERT_EQ(GrpcHealth(OperatorChannel(certs, operator_port)), 1);

  // The flood: connections that never send a byte, more than the server has descriptors.
  std::vector<int> flood;
  for (int i = 0; i < kFloodConnections; ++i) {
    const int fd = Connect(telemetry);
    ASSERT_GE(fd, 0) << "connect " << i << ": " << strerror(errno);
    flood.push_back(fd);
  }
  // During it the server answers, and says it is not accepting vehicles.
  int healthz = 0, grpc_health = 0;
  EXPECT_TRUE(test::WaitFor(
      [&] {
        healthz = Healthz(metrics);
        grpc_health = GrpcHealth(OperatorChannel(certs, operator_port));
        return healthz == 503 && grpc_health == 0;
      },
      20s))
      << "during the flood: /healthz " << healthz << ", grpc.health.v1 " << grpc_health
      << " (want 503 and NOT_SERVING)";
  EXPECT_TRUE(server.Running());

  for (int fd : flood) ::close(fd);

  // Without a restart, a vehicle connects over mTLS and its records are stored again.
  bool stored = false;
  EXPECT_TRUE(test::WaitFor(
      [&] {
        auto channel = certs.Channel(telemetry, "CIT-1");
        if (!channel->WaitForConnected(std::chrono::system_clock::now() + 2s)) return false;
        TelemetryTestClient agent(channel);
        if (agent.Hello("CIT-1", 4) != 3) return false;
        stored = agent.Send(Fixes(4, 6)) && agent.WaitAck(6);
        return stored;
      },
      30s))
      << "no vehicle could connect after the flood closed\n"
      << test::ReadFile(dir / "server.log");
  EXPECT_TRUE(stored);
  EXPECT_TRUE(test::WaitFor([&] {
    return Healthz(metrics) == 200 && GrpcHealth(OperatorChannel(certs, operator_port)) == 1;
  }));
  const double refused = MetricValue(
      metrics, R"(cit_connections_refused_total{port="telemetry",reason="fd_reserve"})");
  const double accepted =
      MetricValue(metrics, R"(cit_connections_accepted_total{port="telemetry"})");
  EXPECT_GT(refused, 0);
  EXPECT_GT(accepted, 0);
  std::cout << "flood of " << kFloodConnections << " with RLIMIT_NOFILE " << kServerFdLimit
            << ": telemetry connections accepted " << accepted << ", refused for the fd reserve "
            << refused << "\n";
}

// The per-port cap, in process: at telemetry_max_connections idle connections the next one is
// closed at once and health says not accepting; when they close, both recover.
TEST(FdExhaustionTest, TelemetryConnectionCapRefusesTheNextAndRecovers) {
  test::TempDir dir;
  DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:0";
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.insecure_dev = true;
  o.database_path = dir / "dispatch.db";
  o.telemetry_max_connections = 5;
  auto server = DispatchServer::Builder(o).Start();
  ASSERT_TRUE(server.ok()) << server.status();
  DispatchServer& s = **server;
  ASSERT_TRUE(s.Health().ok()) << s.Health();

  std::vector<int> idle;
  for (int i = 0; i < 5; ++i) idle.push_back(Connect(s.telemetry_port()));
  Counter& accepted =
      s.metrics().GetCounter("cit_connections_accepted_total", "", {{"port", "telemetry"}});
  ASSERT_TRUE(test::WaitFor([&] { return accepted.value() == 5; }));
  // The sixth is accepted and closed at once: the client reads end-of-stream.
  const int sixth = Connect(s.telemetry_port());
  ASSERT_GE(sixth, 0);
  char byte;
  EXPECT_EQ(::recv(sixth, &byte, 1, 0), 0);
  ::close(sixth);
  EXPECT_EQ(s.metrics()
                .GetCounter("cit_connections_refused_total", "",
                            {{"port", "telemetry"}, {"reason", "max_connections"}})
                .value(),
            1u);
  EXPECT_FALSE(s.Health().ok());
  EXPECT_NE(std::string(s.Health().message()).find("cap"), std::string::npos) << s.Health();

  for (int fd : idle) ::close(fd);
  ASSERT_TRUE(test::WaitFor([&] { return s.Health().ok(); })) << s.Health();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(s.telemetry_port()),
                                     grpc::InsecureChannelCredentials());
  TelemetryTestClient agent(channel);
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  ASSERT_TRUE(agent.Send(Fixes(1, 3)));
  EXPECT_TRUE(agent.WaitAck(3));
}

}  // namespace
}  // namespace cit::dispatch
