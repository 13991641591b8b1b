// Uplink against a real in-process gRPC Telemetry server over loopback: delivery and trimming,
// resume after a server outage with nothing lost or stored twice, batching of a backlog, urgent
// records jumping the queue, mTLS with a vehicle certificate.
#include "vehicle-agent/uplink.h"

#include <grpc/grpc.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <string>
#include <thread>

#include "dispatch-server/server/dispatch_server.h"
#include "tests/agent/agent_side.h"
#include "tests/agent/telemetry_test_server.h"
#include "tests/support/test_env.h"
#include "vehicle-agent/recorder.h"

namespace cit::agent {
namespace {

using testing::Storage;
using testing::TestServer;

AgentConfig::Uplink InsecureConfig(int port) {
  AgentConfig::Uplink c;
  c.servers = {"127.0.0.1:" + std::to_string(port)};
  c.insecure = true;
  c.backoff_initial_ms = 50;
  c.backoff_max_ms = 400;
  c.batch_max_records = 500;
  c.max_inflight_records = 2000;
  return c;
}

// Every seq 1..n stored exactly once (the map holds one entry per seq; duplicates are counted
// separately and are fine: they are the resend the contract expects).
void ExpectExactlyOnce(Storage& st, uint64_t n) {
  std::lock_guard l(st.mu);
  ASSERT_EQ(st.stored.size(), n);
  EXPECT_EQ(st.stored.begin()->first, 1u);
  EXPECT_EQ(st.stored.rbegin()->first, n);
  EXPECT_EQ(st.arrival.size(), n);
  for (const auto& [seq, r] : st.stored) EXPECT_EQ(r.vehicle_id(), "truck-7");
}

TEST(UplinkTest, DeliversRecordsAndTrimsTheJournalOnAck) {
  test::TempDir dir;
  Storage st;
  TestServer server(st, 0);
  AgentSide agent(dir.path(), InsecureConfig(server.port()));
  ASSERT_TRUE(agent.start_status().ok());
  agent.AddFixes(100);
  ASSERT_TRUE(test::WaitFor([&] { return st.size() == 100; }));
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 100; }));
  ExpectExactlyOnce(st, 100);
  std::lock_guard l(st.mu);
  EXPECT_EQ(st.hellos, 1u);
  EXPECT_EQ(st.duplicates, 0u);
}

// A server whose byte limit is below what Welcome.max_batch_records allows (the real ingest,
// ingest.max_batch_bytes 4 KiB) ends the stream RESOURCE_EXHAUSTED for a full batch: the agent
// halves its batch until the server takes it, and everything is stored exactly once.
TEST(UplinkTest, BatchRefusedAsTooLargeIsHalvedUntilTheServerTakesIt) {
  test::TempDir dir;
  dispatch::DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:0";
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.insecure_dev = true;
  o.database_path = dir / "dispatch.db";
  o.ingest.max_batch_records = 1000;
  o.ingest.max_batch_bytes = 4096;
  auto server = dispatch::DispatchServer::Builder(o).Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::filesystem::create_directories(dir / "journal");
  AgentConfig::Uplink cfg = InsecureConfig((*server)->telemetry_port());
  cfg.batch_max_records = 500;  // ~30 KB of fixes: refused on bytes
  AgentSide agent(dir / "journal", cfg);
  ASSERT_TRUE(agent.start_status().ok());
  agent.AddFixes(600);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 600; }, std::chrono::seconds(30)))
      << "acked through " << agent.AckedThrough();
  EXPECT_EQ(*(*server)->store().CountRecords("truck-7"), 600u);
  const UplinkStats stats = agent.Stats();
  EXPECT_GE(stats.batch_shrinks, 1u);
  EXPECT_LT(stats.batch_limit, 500u);
  EXPECT_GE(stats.batch_limit, 1u);
  EXPECT_GE((*server)
                ->metrics()
                .GetCounter("cit_ingest_batches_refused_total", "", {{"limit", "bytes"}})
                .value(),
            1u);
}

TEST(UplinkTest, ServerOutageBuffersThenDrainsExactlyOnce) {
  test::TempDir dir;
  Storage st;
  const int port = test::FreeTcpPort();
  auto server = std::make_unique<TestServer>(st, port);
  AgentSide agent(dir.path(), InsecureConfig(port));
  agent.AddFixes(50);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 50; }));
  const uint64_t attempts = agent.Stats().connect_attempts;
  server.reset();  // outage
  agent.AddFixes(3000);
  // Barrier: the agent noticed the outage and a reconnect attempt against the absent server has
  // failed (the next one has started), with the 3,000 records journalled meanwhile.
  ASSERT_TRUE(test::WaitFor([&] { return agent.Stats().connect_attempts >= attempts + 2; }));
  EXPECT_EQ(st.size(), 50u);
  server = std::make_unique<TestServer>(st, port);
  ASSERT_TRUE(
      test::WaitFor([&] { return agent.AckedThrough() == 3050; }, std::chrono::seconds(20)));
  ExpectExactlyOnce(st, 3050);
  std::lock_guard l(st.mu);
  EXPECT_GE(st.hellos, 2u);
  // The backlog went in batches, not one record per message.
  EXPECT_GT(st.largest_batch, 100u);
  EXPECT_LT(st.batches, 3050u / 10);
}

TEST(UplinkTest, AgentRestartResumesFromWelcomeWithoutDuplicates) {
  test::TempDir dir;
  Storage st;
  TestServer server(st, 0);
  {
    AgentSide agent(dir.path(), InsecureConfig(server.port()));
    agent.AddFixes(200);
    ASSERT_TRUE(test::WaitFor([&] { return st.size() == 200; }));
  }
  AgentSide agent(dir.path(), InsecureConfig(server.port()));
  agent.AddFixes(10);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 210; }));
  ExpectExactlyOnce(st, 210);
}

TEST(UplinkTest, UrgentRecordJumpsTheBacklogAndIsStoredOnce) {
  test::TempDir dir;
  Storage st;
  const int port = test::FreeTcpPort();
  auto server = std::make_unique<TestServer>(st, port, /*accepts_urgent=*/true);
  // A slow store: nothing is acknowledged, so the in-flight window fills and a backlog waits.
  server->service().ack_enabled = false;
  AgentSide agent(dir.path(), InsecureConfig(port));
  agent.AddFixes(10000);
  ASSERT_TRUE(test::WaitFor([&] { return st.size() == 2000; }));  // the in-flight window
  const uint64_t panic_seq = agent.AddPanic();
  EXPECT_EQ(panic_seq, 10001u);
  ASSERT_TRUE(test::WaitFor([&] {
    std::lock_guard l(st.mu);
    return st.stored.count(panic_seq) == 1;
  }));
  {
    std::lock_guard l(st.mu);
    EXPECT_EQ(st.urgent_messages, 1u);
    // It arrived before the 8,000 backlog fixes queued ahead of it.
    EXPECT_EQ(st.arrival.size(), 2001u);
    EXPECT_EQ(st.arrival.back(), panic_seq);
  }
  // Let the store catch up: reconnect to a server that acks; everything lands exactly once.
  server.reset();
  server = std::make_unique<TestServer>(st, port, true);
  ASSERT_TRUE(
      test::WaitFor([&] { return agent.AckedThrough() == 10001; }, std::chrono::seconds(20)));
  ExpectExactlyOnce(st, 10001);
  std::lock_guard l(st.mu);
  EXPECT_GE(st.duplicates, 1u);  // the in-order copy of the panic (and the resent window)
}

TEST(UplinkTest, ServerWithoutUrgentSupportGetsRecordsInOrderOnly) {
  test::TempDir dir;
  Storage st;
  const int port = test::FreeTcpPort();
  auto server = std::make_unique<TestServer>(st, port, /*accepts_urgent=*/false);
  server->service().ack_enabled = false;
  AgentSide agent(dir.path(), InsecureConfig(port));
  agent.AddFixes(5000);
  ASSERT_TRUE(test::WaitFor([&] { return st.size() == 2000; }));  // the in-flight window
  const uint64_t panic_seq = agent.AddPanic();
  ASSERT_EQ(panic_seq, 5001u);
  // Barrier: let the backlog drain (another server without urgent support, acking) until the
  // panic itself is in. An early urgent copy would have been written on the stream before it.
  server.reset();
  server = std::make_unique<TestServer>(st, port, /*accepts_urgent=*/false);
  ASSERT_TRUE(
      test::WaitFor([&] { return agent.AckedThrough() == panic_seq; }, std::chrono::seconds(20)));
  ExpectExactlyOnce(st, panic_seq);
  std::lock_guard l(st.mu);
  EXPECT_EQ(st.urgent_messages, 0u);
  EXPECT_TRUE(std::is_sorted(st.arrival.begin(), st.arrival.end())) << "records in seq order only";
  EXPECT_EQ(st.arrival.back(), panic_seq);
}

TEST(UplinkTest, AbsentServerIsRetriedWithBackoff) {
  test::TempDir dir;
  const int port = test::FreeTcpPort();
  AgentSide agent(dir.path(), InsecureConfig(port));
  agent.AddFixes(5);
  ASSERT_TRUE(test::WaitFor([&] { return agent.Stats().connect_attempts >= 3; }));
  Storage st;
  TestServer server(st, port);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 5; }));
  ExpectExactlyOnce(st, 5);
}

// Two instances on one database: both test servers store into the same Storage.
AgentConfig::Uplink TwoServers(int first_port, int second_port) {
  AgentConfig::Uplink c = InsecureConfig(first_port);
  c.servers.push_back("127.0.0.1:" + std::to_string(second_port));
  return c;
}

TEST(UplinkTest, WhenItsServerDiesTheNextTakesOverAndEveryRecordIsStoredOnce) {
  test::TempDir dir;
  Storage st;
  const int first_port = test::FreeTcpPort();
  auto first = std::make_unique<TestServer>(st, first_port);
  TestServer second(st, 0);
  AgentSide agent(dir.path(), TwoServers(first_port, second.port()));
  agent.AddFixes(50);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 50; }));
  EXPECT_EQ(agent.Stats().failovers, 0u);
  first.reset();  // the instance dies
  agent.AddFixes(3000);
  ASSERT_TRUE(
      test::WaitFor([&] { return agent.AckedThrough() == 3050; }, std::chrono::seconds(20)));
  ExpectExactlyOnce(st, 3050);
  EXPECT_GE(agent.Stats().failovers, 1u);
  std::lock_guard l(st.mu);
  EXPECT_GE(st.hellos, 2u);
}

TEST(UplinkTest, FirstServerAbsentAtStartTheNextIsUsedWithoutWaitingForBackoff) {
  test::TempDir dir;
  Storage st;
  TestServer second(st, 0);
  AgentConfig::Uplink c = TwoServers(test::FreeTcpPort(), second.port());
  // A backoff longer than the test's deadline: only an immediate move to the next address
  // delivers in time.
  c.backoff_initial_ms = 60000;
  c.backoff_max_ms = 60000;
  AgentSide agent(dir.path(), c);
  agent.AddFixes(5);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 5; }, std::chrono::seconds(20)));
  ExpectExactlyOnce(st, 5);
  EXPECT_EQ(agent.Stats().failovers, 1u);
}

TEST(UplinkTest, StaysOnTheServerThatWorksWhenTheFirstComesBack) {
  test::TempDir dir;
  Storage st;
  const int first_port = test::FreeTcpPort();
  TestServer second(st, 0);
  AgentSide agent(dir.path(), TwoServers(first_port, second.port()));
  agent.AddFixes(10);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 10; }));
  const UplinkStats before = agent.Stats();
  TestServer first(st, first_port);  // back
  agent.AddFixes(100);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 110; }));
  ExpectExactlyOnce(st, 110);
  const UplinkStats after = agent.Stats();
  EXPECT_EQ(after.connect_attempts, before.connect_attempts) << "the agent left a working stream";
  EXPECT_EQ(after.failovers, before.failovers);
}

TEST(UplinkTest, MissingTlsFilesFailStart) {
  test::TempDir dir;
  AgentConfig::Uplink c = InsecureConfig(1);
  c.insecure = false;
  c.ca_file = dir / "nope-ca.pem";
  c.cert_file = dir / "nope.pem";
  c.key_file = dir / "nope.key";
  AgentSide agent(dir / "journal", c);
  EXPECT_FALSE(agent.start_status().ok());
  EXPECT_NE(agent.start_status().message().find("nope-ca.pem"), std::string::npos)
      << agent.start_status();
}

TEST(UplinkTest, TlsFileThatIsADirectoryFailsStartNamingIt) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "certs");
  AgentConfig::Uplink c = InsecureConfig(1);
  c.insecure = false;
  c.ca_file = dir / "certs";  // used to read as an empty CA bundle
  c.cert_file = dir / "certs";
  c.key_file = dir / "certs";
  AgentSide agent(dir / "journal", c);
  ASSERT_FALSE(agent.start_status().ok());
  EXPECT_NE(agent.start_status().message().find("uplink.ca_file"), std::string::npos)
      << agent.start_status();
  EXPECT_NE(agent.start_status().message().find("not a regular file"), std::string::npos);
}

// mTLS with certificates made by openssl for this test (CA, server "localhost", vehicle
// "truck-7"): the server sees the vehicle id from the client certificate.
TEST(UplinkTest, MutualTlsPresentsTheVehicleCertificate) {
  test::TempDir dir;
  const std::string d = dir.path().string();
  const std::string script =
      "set -e; cd " + d +
      "; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
      "-out ca.pem -days 2 "
      "-subj /CN=test-ca 2>/dev/null"
      "; openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key "
      "-out server.csr "
      "-subj /CN=localhost 2>/dev/null"
      "; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext"
      "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out server.pem -days 2 -extfile san.ext 2>/dev/null"
      "; openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout truck.key "
      "-out truck.csr "
      "-subj /CN=truck-7 2>/dev/null"
      "; openssl x509 -req -in truck.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out truck.pem -days 2 2>/dev/null";
  ASSERT_EQ(std::system(script.c_str()), 0);
  grpc::SslServerCredentialsOptions sopts(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  sopts.pem_root_certs = test::ReadFile(dir / "ca.pem");
  sopts.pem_key_cert_pairs.push_back(
      {test::ReadFile(dir / "server.key"), test::ReadFile(dir / "server.pem")});
  Storage st;
  TestServer server(st, 0, true, grpc::SslServerCredentials(sopts));
  AgentConfig::Uplink c = InsecureConfig(server.port());
  c.insecure = false;
  c.servers = {"localhost:" + std::to_string(server.port())};
  c.ca_file = dir / "ca.pem";
  c.cert_file = dir / "truck.pem";
  c.key_file = dir / "truck.key";
  AgentSide agent(dir / "journal", c);
  ASSERT_TRUE(agent.start_status().ok());
  agent.AddFixes(3);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 3; }));
  std::lock_guard l(st.mu);
  ASSERT_FALSE(st.peer_identities.empty());
  EXPECT_NE(std::find(st.peer_identities.begin(), st.peer_identities.end(), "truck-7"),
            st.peer_identities.end());
}

// The uplink as the process's only gRPC user, torn down with its stream open, twenty times: each
// teardown releases the last channel, so gRPC's global shutdown runs each time. gRPC's callback
// thread used to hold the last reference to the ended stream (and through its ClientContext to
// the channel) a moment after Uplink::Shutdown returned: the channel, gRPC's callback queue and
// gRPC itself were then torn down from gRPC's own thread, at a process's end while exit()
// destroyed gRPC's globals, and gRPC 1.51 aborted ("ref_counted.h:183 prior > 0") now and then.
// The server runs in a process of its own, so that nothing else here holds gRPC.
TEST(UplinkTest, TornDownWithItsStreamOpenTwentyTimesAsTheOnlyGrpcUserInTheProcess) {
  test::TempDir dir;
  const int port = test::FreeTcpPort();
  const int operator_port = test::FreeTcpPort();
  test::Process server(
      {test::BuiltProgram("dispatch-server/dispatch-server").string(), "--telemetry-listen",
       "127.0.0.1:" + std::to_string(port), "--operator-listen",
       "127.0.0.1:" + std::to_string(operator_port), "--metrics-listen", "", "--http-listen", "",
       "--insecure-dev", "--database", (dir.path() / "dispatch.db").string()},
      dir.path() / "server.log");
  const auto log = [&] { return test::ReadFile(dir.path() / "server.log"); };
  ASSERT_TRUE(test::WaitFor([&] { return log().find("event=server_started") != std::string::npos; },
                            std::chrono::seconds(30)))
      << log();
  for (uint64_t i = 1; i <= 20; ++i) {
    {
      AgentSide agent(dir.path() / "journal", InsecureConfig(port));
      ASSERT_TRUE(agent.start_status().ok()) << agent.start_status();
      agent.AddFixes(1);
      ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= i; })) << log();
      ASSERT_GE(agent.Stats().welcomes, 1u);  // the stream is open when the agent goes
    }
    // Nothing of the agent's is left in gRPC: its last channel went and gRPC shuts down. Waited
    // for, not asserted at once: gRPC may finish releasing a channel's internals (its resolver,
    // subchannels) on its own threads a moment later; the full suite under load showed that once.
    // The abort itself would end this process.
    ASSERT_TRUE(test::WaitFor([] { return grpc_is_initialized() == 0; }, std::chrono::seconds(10)))
        << "gRPC still initialised 10 s after agent " << i;
  }
}

}  // namespace
}  // namespace cit::agent
