// Two dispatch-server instances on one PostgreSQL database (issue 15 §3): the real server binary
// twice, each with its own [store] instance name, a real PostgreSQL started by the test, and the
// agent's real uplink given both addresses. One instance is killed with SIGKILL mid-run; the
// agent moves to the other, which takes the vehicle over (fencing token) and continues its
// chain: every record the agent journalled is stored exactly once and the chain verifies.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <pqxx/pqxx>

#include "dispatch-server/store/postgres_store.h"
#include "tests/agent/agent_side.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::agent {
namespace {

using namespace std::chrono_literals;

class TwoInstancesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = test::SharedPostgres();
    ASSERT_NE(pg_, nullptr);
    auto db = pg_->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    conninfo_ = *db;
  }

  struct Instance {
    std::string name;
    int port = 0;
    std::unique_ptr<test::Process> process;
  };

  Instance Start(const std::string& name) {
    Instance i{name, test::FreeTcpPort(), nullptr};
    const std::filesystem::path config = dir_.path() / (name + ".toml");
    std::ofstream(config) << "[telemetry]\nlisten = \"127.0.0.1:" << i.port << "\"\n"
                          << "[operator]\nlisten = \"127.0.0.1:" << test::FreeTcpPort() << "\"\n"
                          << "[metrics]\nlisten = \"\"\n[http]\nlisten = \"\"\n"
                          << "[tls]\ninsecure_dev = true\n"
                          << "[store]\npath = \"" << (dir_.path() / (name + ".db")).string()
                          << "\"\nbackend = \"postgresql\"\nconnection = \"" << conninfo_
                          << "\"\ninstance = \"" << name << "\"\n";
    i.process = std::make_unique<test::Process>(
        std::vector<std::string>{test::BuiltProgram("dispatch-server/dispatch-server").string(),
                                 "--config", config.string()},
        dir_.path() / (name + ".log"));
    EXPECT_TRUE(test::WaitFor([&] { return Log(name).find("event=server_started") != npos; }, 30s))
        << Log(name);
    return i;
  }

  std::string Log(const std::string& name) { return test::ReadFile(dir_.path() / (name + ".log")); }

  AgentConfig::Uplink Uplink(const Instance& first, const Instance& second) {
    AgentConfig::Uplink c;
    c.servers = {"127.0.0.1:" + std::to_string(first.port),
                 "127.0.0.1:" + std::to_string(second.port)};
    c.insecure = true;
    c.backoff_initial_ms = 50;
    c.backoff_max_ms = 400;
    return c;
  }

  static constexpr size_t npos = std::string::npos;
  test::PostgresServer* pg_ = nullptr;
  std::string conninfo_;
  test::TempDir dir_;
};

TEST_F(TwoInstancesTest, KillNineOfTheServingInstanceLosesNothingAndStoresNothingTwice) {
  Instance a = Start("dispatch-a");
  Instance b = Start("dispatch-b");
  test::TempDir journal;
  AgentSide agent(journal.path(), Uplink(a, b));
  ASSERT_TRUE(agent.start_status().ok()) << agent.start_status();
  agent.AddFixes(200);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 200; }, 30s)) << Log(a.name);
  EXPECT_NE(Log(a.name).find("event=vehicle_taken_over vehicle=truck-7"), npos) << Log(a.name);

  a.process->Signal(SIGKILL);  // mid-run: records keep coming while the agent moves
  agent.AddFixes(800);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 1000; }, 60s))
      << "acked " << agent.AckedThrough() << "\n--- b ---\n"
      << Log(b.name);
  EXPECT_NE(Log(b.name).find("event=vehicle_taken_over vehicle=truck-7"), npos) << Log(b.name);
  EXPECT_GE(agent.Stats().failovers, 1u);

  // What the shared database holds: seqs 1..1000 once each, one unbroken chain.
  pqxx::connection c(conninfo_);
  pqxx::read_transaction t(c);
  const pqxx::row counts = t.exec1(
      "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq), MAX(chain_index) FROM records "
      "WHERE vehicle_id = 'truck-7'");
  EXPECT_EQ(counts[0].as<int64_t>(), 1000);
  EXPECT_EQ(counts[1].as<int64_t>(), 1000);
  EXPECT_EQ(counts[2].as<int64_t>(), 1);
  EXPECT_EQ(counts[3].as<int64_t>(), 1000);
  EXPECT_EQ(counts[4].as<int64_t>(), 1000);
  EXPECT_EQ(
      t.exec1("SELECT owner FROM vehicle_seq WHERE vehicle_id = 'truck-7'")[0].as<std::string>(),
      "dispatch-b");
  dispatch::PostgresStoreOptions o;
  o.connection = conninfo_;
  auto reader = dispatch::PostgresStore::Open(o);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto verified = (*reader)->VerifyChain("truck-7");
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok);
}

}  // namespace
}  // namespace cit::agent
