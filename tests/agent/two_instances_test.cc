// Two dispatch-server instances on one PostgreSQL database (issue 15 §3): the real server binary
// twice, each with its own [store] instance name, a real PostgreSQL started by the test, and the
// agent's real uplink given both addresses. One instance is killed with SIGKILL mid-run; the
// agent moves to the other, which takes the vehicle over (fencing token) and continues its
// chain: every record the agent journalled is stored exactly once and the chain verifies. An
// alert raised on one instance reaches a watcher on the other, and is acknowledged there.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/store/postgres_store.h"
#include "tests/agent/agent_side.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::agent {
namespace {

using namespace std::chrono_literals;

// A WatchAlerts client on one instance's operator port, reading on its own thread.
class AlertStream {
 public:
  explicit AlertStream(int operator_port)
      : stub_(cit::v1::Alerts::NewStub(grpc::CreateChannel(
            "127.0.0.1:" + std::to_string(operator_port), grpc::InsecureChannelCredentials()))),
        thread_([this] { Read(); }) {}
  ~AlertStream() {
    ctx_.TryCancel();
    thread_.join();
  }
  AlertStream(const AlertStream&) = delete;
  AlertStream& operator=(const AlertStream&) = delete;

  // The first event (a change, or the current state replayed at connect) that `matches`,
  // waiting up to 30 s for it (an empty event then).
  cit::v1::AlertEvent WaitFor(const std::function<bool(const cit::v1::AlertEvent&)>& matches) {
    std::unique_lock<std::mutex> lock(mu_);
    cit::v1::AlertEvent found;
    const bool got = cv_.wait_for(lock, 30s, [&] {
      for (const cit::v1::AlertEvent& e : events_) {
        if (!matches(e)) continue;
        found = e;
        return true;
      }
      return false;
    });
    EXPECT_TRUE(got) << "no such event among " << events_.size();
    return found;
  }

 private:
  void Read() {
    cit::v1::WatchAlertsRequest req;
    auto reader = stub_->WatchAlerts(&ctx_, req);
    cit::v1::AlertEvent e;
    while (reader->Read(&e)) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(e);
      }
      cv_.notify_all();
    }
    reader->Finish().IgnoreError();
  }

  std::unique_ptr<cit::v1::Alerts::Stub> stub_;
  grpc::ClientContext ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<cit::v1::AlertEvent> events_;
  std::thread thread_;
};

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
    int operator_port = 0;
    std::unique_ptr<test::Process> process;
  };

  Instance Start(const std::string& name) {
    Instance i{name, test::FreeTcpPort(), test::FreeTcpPort(), nullptr};
    const std::filesystem::path config = dir_.path() / (name + ".toml");
    std::ofstream(config) << "[telemetry]\nlisten = \"127.0.0.1:" << i.port << "\"\n"
                          << "[operator]\nlisten = \"127.0.0.1:" << i.operator_port << "\"\n"
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

// The alert raised on one instance reaches a watcher on the other, and an operator acknowledges
// it there: the instance that raised it shows it acknowledged (issue 15 §3, alerts fan-out).
TEST_F(TwoInstancesTest, APanicOnOneInstanceIsWatchedAndAcknowledgedOnTheOther) {
  Instance a = Start("dispatch-a");
  Instance b = Start("dispatch-b");
  AlertStream on_a(a.operator_port), on_b(b.operator_port);
  test::TempDir journal;
  AgentSide agent(journal.path(), Uplink(a, b));
  ASSERT_TRUE(agent.start_status().ok()) << agent.start_status();
  agent.AddFixes(5);
  const uint64_t panic_seq = agent.AddPanic();
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= panic_seq; }, 30s)) << Log(a.name);
  EXPECT_NE(Log(a.name).find("event=vehicle_taken_over vehicle=truck-7"), npos) << Log(a.name);

  // Raised on a (the agent's instance), seen by the watcher on b.
  const cit::v1::AlertEvent raised = on_b.WaitFor(
      [](const cit::v1::AlertEvent& e) { return e.alert().kind() == cit::v1::ALERT_KIND_PANIC; });
  ASSERT_EQ(raised.alert().kind(), cit::v1::ALERT_KIND_PANIC) << Log(b.name);
  EXPECT_EQ(raised.alert().vehicle_id(), "truck-7");

  // Acknowledged on b, acknowledged on a.
  auto b_stub = cit::v1::Alerts::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(b.operator_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  cit::v1::AckAlertRequest req;
  req.set_alert_id(raised.alert().alert_id());
  req.set_comment("calling the crew");
  cit::v1::Alert acked;
  grpc::Status s = b_stub->AckAlert(&ctx, req, &acked);
  ASSERT_TRUE(s.ok()) << s.error_message() << Log(b.name);
  const cit::v1::AlertEvent seen_on_a = on_a.WaitFor([](const cit::v1::AlertEvent& e) {
    return e.alert().state() == cit::v1::ALERT_STATE_ACKNOWLEDGED;
  });
  EXPECT_EQ(seen_on_a.alert().alert_id(), raised.alert().alert_id());
  EXPECT_EQ(seen_on_a.alert().state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  auto a_stub = cit::v1::Alerts::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(a.operator_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext list_ctx;
  cit::v1::ListAlertsResponse listed;
  ASSERT_TRUE(a_stub->ListAlerts(&list_ctx, cit::v1::ListAlertsRequest{}, &listed).ok());
  int panics = 0;
  std::string kinds;
  for (const cit::v1::Alert& alert : listed.alerts()) {
    kinds += cit::v1::AlertKind_Name(alert.kind()) + " ";
    if (alert.kind() != cit::v1::ALERT_KIND_PANIC) continue;
    ++panics;
    EXPECT_EQ(alert.alert_id(), raised.alert().alert_id());
    EXPECT_EQ(alert.state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  }
  EXPECT_EQ(panics, 1) << "one panic, one alert, on a: " << kinds;
}

// Runs across instances (issue 15 §3): a run planned on a is listed on b, dispatched and
// aborted there, and a shows each change; both show the same plan log.
TEST_F(TwoInstancesTest, ARunPlannedOnOneInstanceIsListedDispatchedAndAbortedOnTheOther) {
  Instance a = Start("dispatch-a");
  Instance b = Start("dispatch-b");
  auto stub = [](const Instance& i) {
    return cit::v1::Dispatch::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(i.operator_port), grpc::InsecureChannelCredentials()));
  };
  auto on_a = stub(a);
  auto on_b = stub(b);
  auto state_on = [](cit::v1::Dispatch::Stub& s, const std::string& run_id) {
    grpc::ClientContext ctx;
    cit::v1::ListRunsResponse listed;
    if (!s.ListRuns(&ctx, cit::v1::ListRunsRequest{}, &listed).ok()) {
      return cit::v1::RUN_STATE_UNSPECIFIED;
    }
    for (const cit::v1::Run& r : listed.runs()) {
      if (r.plan().run_id() == run_id) return r.state();
    }
    return cit::v1::RUN_STATE_UNSPECIFIED;
  };

  cit::v1::CreateRunRequest create;
  create.set_allow_unknown_vehicle(true);
  cit::v1::RunPlan* plan = create.mutable_plan();
  plan->set_run_id("R-1");
  plan->set_vehicle_id("truck-7");
  for (double lon : {8.50, 8.51, 8.52}) {
    cit::v1::Position* p = plan->mutable_route()->add_points();
    p->set_lat_deg(47.37);
    p->set_lon_deg(lon);
  }
  plan->mutable_route()->set_corridor_half_width_m(50);
  cit::v1::Run created;
  grpc::ClientContext create_ctx;
  grpc::Status s = on_a->CreateRun(&create_ctx, create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message() << Log(a.name);
  ASSERT_TRUE(
      test::WaitFor([&] { return state_on(*on_b, "R-1") == cit::v1::RUN_STATE_PLANNED; }, 20s))
      << Log(b.name);

  cit::v1::DispatchRunRequest dispatch;
  dispatch.set_run_id("R-1");
  cit::v1::Run dispatched;
  grpc::ClientContext dispatch_ctx;
  s = on_b->DispatchRun(&dispatch_ctx, dispatch, &dispatched);
  ASSERT_TRUE(s.ok()) << s.error_message() << Log(b.name);
  ASSERT_TRUE(
      test::WaitFor([&] { return state_on(*on_a, "R-1") == cit::v1::RUN_STATE_DISPATCHED; }, 20s))
      << Log(a.name);

  cit::v1::EndRunRequest abort;
  abort.set_run_id("R-1");
  abort.set_comment("truck broke down");
  cit::v1::Run aborted;
  grpc::ClientContext abort_ctx;
  s = on_b->AbortRun(&abort_ctx, abort, &aborted);
  ASSERT_TRUE(s.ok()) << s.error_message() << Log(b.name);
  ASSERT_TRUE(
      test::WaitFor([&] { return state_on(*on_a, "R-1") == cit::v1::RUN_STATE_ABORTED; }, 20s))
      << Log(a.name);
  for (cit::v1::Dispatch::Stub* i : {on_a.get(), on_b.get()}) {
    grpc::ClientContext ctx;
    cit::v1::GetRunRequest get;
    get.set_run_id("R-1");
    cit::v1::RunHistory history;
    ASSERT_TRUE(i->GetRunHistory(&ctx, get, &history).ok());
    ASSERT_EQ(history.events_size(), 3) << "create on a, dispatch and abort on b";
    EXPECT_EQ(history.events(2).comment(), "truck broke down");
  }
  EXPECT_NE(Log(a.name).find("event=plan_followed position=2 run_id=R-1"), npos) << Log(a.name);
}

}  // namespace
}  // namespace cit::agent
