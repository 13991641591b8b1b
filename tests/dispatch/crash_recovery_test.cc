// The built dispatch-server process, SIGKILLed while 10,000 records stream in, then restarted:
// every acknowledged record is present, the hash chain verifies, and the agent's resend
// completes the set exactly once -- on both store backends (Backends/CrashRecoveryTest.<case>/
// sqlite and /postgresql: the server's [store] in a fresh PostgreSQL database). Also: SIGTERM
// drains and exits 0 (also with 100,000-record batches in flight); --check-config.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "tests/dispatch/store_backends.h"
#include "tests/dispatch/telemetry_test_client.h"

namespace cit::dispatch {
namespace {

using cit::test::Fixes;
using cit::test::TelemetryTestClient;

constexpr uint64_t kTotal = 10'000;
constexpr uint64_t kBatch = 100;

class ServerProcess {
 public:
  // `config`: a config file for what flags do not set ([store] backend), or empty.
  ServerProcess(const cit::test::TestCerts& certs, const cit::test::TempDir& dir, int port,
                const std::filesystem::path& config = {})
      : process_(Args(certs, dir, port, config), dir / "server.log") {}
  cit::test::Process& process() { return process_; }

 private:
  static std::vector<std::string> Args(const cit::test::TestCerts& certs,
                                       const cit::test::TempDir& dir, int port,
                                       const std::filesystem::path& config) {
    std::vector<std::string> args = {
        cit::test::BuiltProgram("dispatch-server/dispatch-server").string(),
        "--telemetry-listen",
        "127.0.0.1:" + std::to_string(port),
        "--operator-listen",
        "127.0.0.1:" + std::to_string(cit::test::FreeTcpPort()),
        "--metrics-listen",
        "",
        "--http-listen",
        "",
        "--database",
        (dir / "dispatch.db").string()};
    const std::vector<std::string> tls = certs.ServerTlsArgs();
    args.insert(args.end(), tls.begin(), tls.end());
    if (!config.empty()) args.insert(args.end(), {"--config", config.string()});
    return args;
  }
  cit::test::Process process_;
};

bool WaitConnectable(const std::shared_ptr<grpc::Channel>& channel) {
  return channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(15));
}

class CrashRecoveryTest : public ::testing::TestWithParam<std::string> {
 protected:
  // The server's config file: the PostgreSQL database of db_, or nothing (SQLite by flags).
  std::filesystem::path Config() {
    if (!db_.pg()) return {};
    const std::filesystem::path path = db_.dir() / "server.toml";
    std::ofstream(path) << "[store]\nbackend = \"postgresql\"\nconnection = \"" << db_.conninfo()
                        << "\"\n";
    return path;
  }
  test::BackendDb db_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Backends, CrashRecoveryTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

TEST_P(CrashRecoveryTest, SigkillDuringStreamLosesNoAckedRecordAndResendCompletesExactlyOnce) {
  cit::test::TestCerts certs({"CIT-1"});
  const cit::test::TempDir& dir = db_.dir();
  const std::filesystem::path config = Config();
  const int port = cit::test::FreeTcpPort();
  std::atomic<uint64_t> acked{0};
  {
    ServerProcess server(certs, dir, port, config);
    auto channel = certs.Channel(port, "CIT-1");
    ASSERT_TRUE(WaitConnectable(channel)) << cit::test::ReadFile(dir / "server.log");
    TelemetryTestClient agent(channel);
    ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
    std::thread reader([&] {
      // WaitAck returns false when the server dies.
      for (uint64_t s = kBatch; s <= kTotal && agent.WaitAck(s); s += kBatch) acked = agent.acked();
      acked = agent.acked();
    });
    std::atomic<bool> writing{true};
    std::thread writer([&] {
      for (uint64_t first = 1; first <= kTotal && writing; first += kBatch) {
        if (!agent.Send(Fixes(first, first + kBatch - 1))) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
    // Kill it mid-stream: after some acks, well before the end.
    ASSERT_TRUE(cit::test::WaitFor([&] { return acked.load() >= 2000; }, std::chrono::seconds(30)));
    server.process().Kill();
    writing = false;
    writer.join();
    reader.join();
  }
  const uint64_t acked_before_crash = acked.load();
  ASSERT_GE(acked_before_crash, 2000u);
  ASSERT_LT(acked_before_crash, kTotal) << "the kill must land mid-stream";

  ServerProcess server(certs, dir, port, config);
  auto channel = certs.Channel(port, "CIT-1");
  ASSERT_TRUE(WaitConnectable(channel)) << cit::test::ReadFile(dir / "server.log");
  {
    TelemetryTestClient agent(channel);
    // The agent's journal still holds everything after its last ack.
    const int64_t resume = agent.Hello("CIT-1", acked_before_crash + 1);
    ASSERT_GE(resume, static_cast<int64_t>(acked_before_crash)) << "an acked record was lost";
    for (uint64_t first = acked_before_crash + 1; first <= kTotal; first += kBatch) {
      ASSERT_TRUE(agent.Send(Fixes(first, std::min(first + kBatch - 1, kTotal))));
    }
    ASSERT_TRUE(agent.WaitAck(kTotal));
  }
  // SIGTERM: drain and exit 0.
  server.process().Signal(SIGTERM);
  EXPECT_EQ(server.process().WaitExit(std::chrono::seconds(15)), 0)
      << cit::test::ReadFile(dir / "server.log");

  auto store = db_.OpenRecordStore();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->CountRecords("CIT-1"), kTotal);
  EXPECT_EQ(*(*store)->HighestContiguousSeq("CIT-1"), kTotal);
  auto records = (*store)->ReadBySeq("CIT-1", 1, kTotal + 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), kTotal);
  for (uint64_t i = 0; i < kTotal; ++i) ASSERT_EQ((*records)[i].record.seq(), i + 1);
  auto chain = (*store)->VerifyChain("CIT-1");
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->ok) << chain->detail;
  EXPECT_EQ(chain->records_checked, kTotal);
}

TEST(DispatchServerProcessTest, SigtermWithHugeBatchesInFlightExitsPromptly) {
  // Two 100,000-record batches used to pin both gRPC callback threads for ~160 s each (a
  // per-record ByteSizeLong()), and SIGTERM then took 45 s. Now they are refused on arrival.
  cit::test::TestCerts certs({"CIT-1", "CIT-2"});
  cit::test::TempDir dir;
  const int port = cit::test::FreeTcpPort();
  ServerProcess server(certs, dir, port);
  cit::v1::RecordBatch huge;
  for (uint64_t s = 1; s <= 100'000; ++s) {
    cit::v1::Record* r = huge.add_records();
    r->set_seq(s);
    r->mutable_event_time()->set_seconds(1'700'000'000);
    r->mutable_heartbeat();
  }
  std::vector<std::unique_ptr<TelemetryTestClient>> agents;
  for (const char* vehicle : {"CIT-1", "CIT-2"}) {
    auto channel = certs.Channel(port, vehicle);
    ASSERT_TRUE(WaitConnectable(channel)) << cit::test::ReadFile(dir / "server.log");
    agents.push_back(std::make_unique<TelemetryTestClient>(channel));
    ASSERT_EQ(agents.back()->Hello(vehicle, 1), 0);
    ASSERT_TRUE(agents.back()->Send(huge));
  }
  server.process().Signal(SIGTERM);
  EXPECT_EQ(server.process().WaitExit(std::chrono::seconds(15)), 0)
      << cit::test::ReadFile(dir / "server.log");
}

TEST(DispatchServerProcessTest, CheckConfigAcceptsExampleAndRefusesUnknownKey) {
  cit::test::TestCerts certs({});
  cit::test::TempDir dir;
  std::filesystem::copy(cit::test::SourcePath("deploy/dispatch-server.toml"), dir / "server.toml");
  std::filesystem::create_directory(dir / "certs");
  for (const char* f : {"ca.crt", "server.crt", "server.key"}) {
    std::filesystem::copy(certs.File(f), dir / "certs" / f);
  }
  const std::string bin = cit::test::BuiltProgram("dispatch-server/dispatch-server").string();
  {
    cit::test::Process ok({bin, "--config", (dir / "server.toml").string(), "--check-config"},
                          dir / "ok.log");
    EXPECT_EQ(ok.WaitExit(std::chrono::seconds(10)), 0) << cit::test::ReadFile(dir / "ok.log");
  }
  {
    std::ofstream(dir / "bad.toml") << "[ingest]\nmax_batch_recordz = 3\n";
    cit::test::Process bad({bin, "--config", (dir / "bad.toml").string(), "--check-config"},
                           dir / "bad.log");
    EXPECT_EQ(bad.WaitExit(std::chrono::seconds(10)), 2);
    EXPECT_NE(cit::test::ReadFile(dir / "bad.log").find("max_batch_recordz"), std::string::npos);
  }
}

}  // namespace
}  // namespace cit::dispatch
