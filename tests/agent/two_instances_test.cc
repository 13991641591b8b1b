// Two dispatch-server instances on one PostgreSQL database (issue 15 §3): the real server binary
// twice, each with its own [store] instance name, a real PostgreSQL started by the test, and the
// agent's real uplink given both addresses. One instance is killed with SIGKILL mid-run; the
// agent moves to the other, which takes the vehicle over (fencing token) and continues its
// chain: every record the agent journalled is stored exactly once and the chain verifies. An
// alert raised on one instance reaches a watcher on the other, and is acknowledged there. A
// run killed mid-way raises exactly the alerts of an uninterrupted one, and a watcher on the
// surviving instance sees all of them. An instance paused with SIGSTOP past a takeover stores
// nothing for the vehicle when continued (split brain). A notification queued by an instance
// that is then killed is delivered by the other, once, with its idempotency key.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/server/run_monitoring.h"
#include "dispatch-server/store/postgres_alert_store.h"
#include "dispatch-server/store/postgres_store.h"
#include "tests/agent/agent_side.h"
#include "tests/dispatch/notify_receivers.h"
#include "tests/support/http_get.h"
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

// What a test changes in an instance's configuration.
struct Tuning {
  bool metrics = false;
  std::string ingest_toml;  // lines of [ingest]
  std::string server_toml;  // lines of [server]
  std::string store_toml;   // more lines of [store] (e.g. "instance_expiry_ms = 3000")
  std::string top_toml;     // tables of their own, last ([notify], [[escalation]])
};

class TwoInstancesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = test::SharedPostgres();
    ASSERT_NE(pg_, nullptr);
    NewDatabase();
  }
  void NewDatabase() {
    auto db = pg_->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    conninfo_ = *db;
  }

  struct Instance {
    std::string name;
    int port = 0;
    int operator_port = 0;
    std::unique_ptr<test::Process> process;
    int metrics_port = 0;  // 0: no metrics port
  };

  Instance Start(const std::string& name, const Tuning& tuning = {}) {
    Instance i{name, test::FreeTcpPort(), test::FreeTcpPort(), nullptr,
               tuning.metrics ? test::FreeTcpPort() : 0};
    const std::string metrics_listen =
        tuning.metrics ? "127.0.0.1:" + std::to_string(i.metrics_port) : "";
    const std::filesystem::path config = dir_.path() / (name + ".toml");
    std::ofstream(config) << "[telemetry]\nlisten = \"127.0.0.1:" << i.port << "\"\n"
                          << "[operator]\nlisten = \"127.0.0.1:" << i.operator_port << "\"\n"
                          << "[metrics]\nlisten = \"" << metrics_listen << "\"\n"
                          << "[http]\nlisten = \"\"\n"
                          << "[ingest]\n"
                          << tuning.ingest_toml << "\n"
                          << "[server]\n"
                          << tuning.server_toml << "\n"
                          << "[tls]\ninsecure_dev = true\n"
                          << "[store]\npath = \"" << (dir_.path() / (name + ".db")).string()
                          << "\"\nbackend = \"postgresql\"\nconnection = \"" << conninfo_
                          << "\"\ninstance = \"" << name << "\"\n"
                          << tuning.store_toml << "\n"
                          << tuning.top_toml << "\n";
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

  // What the shared database holds for truck-7: seqs 1..n once each at chain indexes up to n,
  // owned by `owner`, one chain that verifies.
  void ExpectStoredOnceInOneChain(int64_t n, const std::string& owner) {
    pqxx::connection c(conninfo_);
    pqxx::read_transaction t(c);
    const pqxx::row counts = t.exec1(
        "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq), MAX(chain_index) FROM "
        "records WHERE vehicle_id = 'truck-7'");
    EXPECT_EQ(counts[0].as<int64_t>(), n);
    EXPECT_EQ(counts[1].as<int64_t>(), n);
    EXPECT_EQ(counts[2].as<int64_t>(), 1);
    EXPECT_EQ(counts[3].as<int64_t>(), n);
    EXPECT_EQ(counts[4].as<int64_t>(), n);
    EXPECT_EQ(
        t.exec1("SELECT owner FROM vehicle_seq WHERE vehicle_id = 'truck-7'")[0].as<std::string>(),
        owner);
    dispatch::PostgresStoreOptions o;
    o.connection = conninfo_;
    auto reader = dispatch::PostgresStore::Open(o);
    ASSERT_TRUE(reader.ok()) << reader.status();
    auto verified = (*reader)->VerifyChain("truck-7");
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->detail;
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
  ExpectStoredOnceInOneChain(1000, "dispatch-b");
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

// --- A planned run killed mid-way: the alerts of an uninterrupted run -------------------------

// Metres east (x) and north (y) of the depot, as the agent reports them.
cit::v1::Position Where(double x_m, double y_m) {
  constexpr double kMetresPerDegree = 111'320.0;
  cit::v1::Position p;
  p.set_lat_deg(48.0 + y_m / kMetresPerDegree);
  p.set_lon_deg(11.5 + x_m / (kMetresPerDegree * std::cos(48.0 * M_PI / 180.0)));
  return p;
}

// A run along a straight 10 km road with a depot and three stops (no windows, no dwell limits:
// every alert of the script follows from the records alone, whatever the servers' clocks do).
cit::v1::RunPlan KillPlan() {
  cit::v1::RunPlan plan;
  plan.set_run_id("run-kill");
  plan.set_vehicle_id("truck-7");
  for (int x = 0; x <= 10'000; x += 1'000) *plan.mutable_route()->add_points() = Where(x, 0);
  plan.mutable_route()->set_corridor_half_width_m(50);
  for (const auto& [id, x] : std::vector<std::pair<std::string, double>>{
           {"D", 0}, {"S1", 3000}, {"S2", 6000}, {"S3", 9000}}) {
    cit::v1::Stop* s = plan.add_stops();
    s->set_stop_id(id);
    *s->mutable_position() = Where(x, 0);
    s->set_radius_m(40);
    s->set_doors_may_open(true);
  }
  return plan;
}

// The truck's records, one second apart in event time from `t0`: depot, S1 (a door opened
// there), a seal broken en route, a 200 m detour with a door opened off route, S2, S3, then a
// panic (the last record: once its alert is stored, every record before it was judged).
std::vector<cit::v1::Record> KillScript(std::chrono::system_clock::time_point t0) {
  std::vector<cit::v1::Record> out;
  auto stamp = [&](cit::v1::Record r, double t_s) {
    const auto at = t0 + std::chrono::milliseconds(static_cast<int64_t>(t_s * 1000));
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch());
    r.mutable_event_time()->set_seconds(ns.count() / 1'000'000'000);
    r.mutable_event_time()->set_nanos(static_cast<int32_t>(ns.count() % 1'000'000'000));
    out.push_back(std::move(r));
  };
  auto fix = [&](double t, double x, double y, double v) {
    cit::v1::Record r;
    const cit::v1::Position p = Where(x, y);
    r.mutable_fix()->set_lat_deg(p.lat_deg());
    r.mutable_fix()->set_lon_deg(p.lon_deg());
    r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    r.mutable_fix()->set_speed_mps(v);
    stamp(std::move(r), t);
  };
  auto door = [&](double t, uint32_t d, bool open) {
    cit::v1::Record r;
    r.mutable_door()->set_door(d);
    r.mutable_door()->set_state(open ? cit::v1::DOOR_STATE_OPEN : cit::v1::DOOR_STATE_CLOSED);
    stamp(std::move(r), t);
  };
  for (int t = 1; t < 60; ++t) fix(t, 0, 0, 0);
  for (int t = 60; t <= 360; ++t) fix(t, (t - 60) * 10.0, 0, 10);
  for (int t = 361; t <= 420; ++t) {
    fix(t, 3000, 0, 0);
    if (t == 380) door(t + 0.5, 1, true);
    if (t == 400) door(t + 0.5, 1, false);
  }
  for (int t = 421; t <= 521; ++t) {
    fix(t, 3000 + (t - 420) * 10.0, 0, 10);
    if (t == 460) {
      cit::v1::Record r;
      r.mutable_seal()->set_seal(1);
      r.mutable_seal()->set_state(cit::v1::SEAL_STATE_BROKEN);
      stamp(std::move(r), t + 0.5);
    }
  }
  for (int t = 522; t <= 622; ++t) {
    fix(t, 4000 + (t - 522) * 10.0, 200, 10);
    if (t == 540) door(t + 0.5, 2, true);
    if (t == 550) door(t + 0.5, 2, false);
  }
  for (int t = 623; t <= 723; ++t) fix(t, 5000 + (t - 623) * 10.0, 0, 10);
  for (int t = 724; t <= 780; ++t) fix(t, 6000, 0, 0);
  for (int t = 781; t <= 1080; ++t) fix(t, 6000 + (t - 780) * 10.0, 0, 10);
  for (int t = 1081; t <= 1100; ++t) fix(t, 9000, 0, 0);
  cit::v1::Record panic;
  panic.mutable_panic()->set_source("test");
  stamp(std::move(panic), 1100.5);
  return out;
}

// An alert as the comparison sees it, whichever instance raised it.
using AlertKey = std::tuple<std::string, std::string, std::string, int64_t, uint32_t, bool>;

std::multiset<AlertKey> StoredAlerts(const std::string& conninfo, int64_t t0_s) {
  std::multiset<AlertKey> out;
  auto store = dispatch::PostgresAlertStore::Open(conninfo);
  if (!store.ok()) return out;
  auto loaded = (*store)->Load(0);
  if (!loaded.ok()) return out;
  for (const cit::v1::Alert& a : loaded->alerts) {
    out.emplace(cit::v1::AlertKind_Name(a.kind()), a.vehicle_id(), a.subject(),
                a.event_time().seconds() - t0_s, a.occurrences(), a.has_condition_cleared_time());
  }
  return out;
}

std::string Describe(const std::multiset<AlertKey>& alerts) {
  std::string out;
  for (const auto& [kind, vehicle, subject, t, occ, cleared] : alerts) {
    out += kind + " " + vehicle + " [" + subject + "] t=" + std::to_string(t) +
           " occ=" + std::to_string(occ) + " cleared=" + std::to_string(cleared) + "\n";
  }
  return out;
}

class TwoInstancesRunTest : public TwoInstancesTest {
 protected:
  // The run planned in a fresh database before both instances start (both load it), the script
  // sent by a real agent listing both; with `kill_at` the serving instance is killed -9 once
  // that many records are acknowledged. Returns the alerts stored once the final panic's is.
  std::multiset<AlertKey> Play(const std::string& tag, std::optional<size_t> kill_at) {
    NewDatabase();
    {
      dispatch::SystemClock clock;
      dispatch::RunMonitoringOptions o;
      o.database_path = dir_.path() / (tag + "-planner.db");
      o.postgres_connection = conninfo_;
      auto planner = dispatch::RunMonitoring::Open(o, &clock);
      EXPECT_TRUE(planner.ok()) << planner.status();
      if (!planner.ok()) return {};
      EXPECT_TRUE((*planner)->runs().Create(KillPlan(), "tester").ok());
      EXPECT_TRUE((*planner)->runs().Dispatch("run-kill", "tester").ok());
      (*planner)->Stop();
    }
    Instance a = Start(tag + "-a");
    Instance b = Start(tag + "-b");
    // An operator watching on the instance that survives the kill.
    AlertStream watch_b(b.operator_port);
    test::TempDir journal;
    AgentSide agent(journal.path(), Uplink(a, b));
    EXPECT_TRUE(agent.start_status().ok()) << agent.start_status();
    // Event times in the past (the validator refuses the future): the same offsets each play.
    const auto t0 = std::chrono::time_point_cast<std::chrono::seconds>(
        std::chrono::system_clock::now() - std::chrono::seconds(1800));
    const std::vector<cit::v1::Record> script = KillScript(t0);
    // In blocks, each acknowledged before the next: urgent records (doors, seal) do not jump
    // far ahead, as in a truck's steady stream.
    constexpr size_t kBlock = 50;
    for (size_t i = 0; i < script.size(); i += kBlock) {
      const size_t end = std::min(script.size(), i + kBlock);
      for (size_t k = i; k < end; ++k) agent.Add(script[k]);
      EXPECT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= end; }, 60s))
          << "acked " << agent.AckedThrough() << " of " << end << "\n--- a ---\n"
          << Log(a.name) << "\n--- b ---\n"
          << Log(b.name);
      if (kill_at && end >= *kill_at && a.process != nullptr) {
        a.process->Signal(SIGKILL);  // mid-run, the next block goes to b
        a.process.reset();
      }
    }
    const int64_t t0_s = t0.time_since_epoch().count();
    std::multiset<AlertKey> alerts;
    EXPECT_TRUE(test::WaitFor(
        [&] {
          alerts = StoredAlerts(conninfo_, t0_s);
          for (const AlertKey& k : alerts) {
            if (std::get<0>(k) == "ALERT_KIND_PANIC") return true;
          }
          return false;
        },
        60s))
        << Describe(alerts) << "\n--- b ---\n"
        << Log(b.name);
    if (kill_at) {
      EXPECT_NE(Log(b.name).find("event=monitor_takeover vehicle=truck-7"), npos) << Log(b.name);
      EXPECT_NE(Log(b.name).find("cause=takeover"), npos) << Log(b.name);
    }
    // The watcher on b saw every alert, those raised on a before the kill included, each up to
    // its stored revision.
    auto store = dispatch::PostgresAlertStore::Open(conninfo_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return alerts;
    auto loaded = (*store)->Load(0);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (!loaded.ok()) return alerts;
    for (const cit::v1::Alert& stored : loaded->alerts) {
      const cit::v1::AlertEvent seen = watch_b.WaitFor([&](const cit::v1::AlertEvent& e) {
        return e.alert().alert_id() == stored.alert_id() &&
               e.alert().revision() == stored.revision();
      });
      EXPECT_EQ(seen.alert().alert_id(), stored.alert_id())
          << cit::v1::AlertKind_Name(stored.kind()) << " not seen by the watcher on " << b.name;
    }
    return alerts;
  }
};

TEST_F(TwoInstancesRunTest, KillNineMidRunRaisesExactlyTheAlertsOfAnUninterruptedRun) {
  const std::multiset<AlertKey> reference = Play("ref", std::nullopt);
  std::set<std::string> kinds;
  for (const AlertKey& k : reference) kinds.insert(std::get<0>(k));
  for (const char* k : {"ALERT_KIND_SEAL_BROKEN", "ALERT_KIND_ROUTE_DEVIATION",
                        "ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP", "ALERT_KIND_PANIC"}) {
    EXPECT_EQ(kinds.count(k), 1u) << k << "\n" << Describe(reference);
  }
  // Killed during the detour (door 2 opened off route, deviation open): b continues from the
  // rebuilt state -- no deviation raised again, no stop judged out of order, nothing lost.
  const std::multiset<AlertKey> killed = Play("kill", 560);
  EXPECT_EQ(killed, reference) << "reference:\n"
                               << Describe(reference) << "killed:\n"
                               << Describe(killed);
}

// Split brain (issue 15, "Tests"): an instance paused with SIGSTOP while it holds records of a
// vehicle it has not committed yet, past the moment its agent moved to the other instance, is
// continued: its commit is refused whole (fencing token), so the records stored are the new
// owner's, once each, in one chain that verifies.
TEST_F(TwoInstancesTest, AnInstancePausedPastATakeoverWritesNothingForTheVehicleWhenContinued) {
  Tuning slow_commit;
  slow_commit.metrics = true;
  // A holds what it receives 4 s before committing it: the window in which it is paused.
  slow_commit.ingest_toml = "group_commit_ms = 4000\ngroup_commit_records = 100000";
  slow_commit.server_toml = "min_client_ping_interval_ms = 100";
  Tuning quick;
  quick.server_toml = "min_client_ping_interval_ms = 100";
  Instance a = Start("paused-a", slow_commit);
  Instance b = Start("paused-b", quick);
  AgentConfig::Uplink uplink = Uplink(a, b);
  uplink.keepalive_time_ms = 300;  // the agent notices the paused instance within ~1 s
  uplink.keepalive_timeout_ms = 700;
  test::TempDir journal;
  AgentSide agent(journal.path(), uplink);
  ASSERT_TRUE(agent.start_status().ok()) << agent.start_status();
  agent.AddFixes(100);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 100; }, 30s)) << Log(a.name);

  // 50 more reach A, which holds them for its group commit; A is paused before it commits.
  agent.AddFixes(50);
  auto received_by_a = [&] {
    return test::MetricValue(test::HttpGet(a.metrics_port, "/metrics"),
                             "cit_ingest_records_received_total")
        .value_or(0);
  };
  ASSERT_TRUE(test::WaitFor([&] { return received_by_a() >= 150; }, 30s));
  a.process->Signal(SIGSTOP);
  ASSERT_EQ(agent.AckedThrough(), 100u) << "A committed before it was paused";

  // The agent gives up on A and sends everything unacknowledged, and more, to B.
  agent.AddFixes(50);
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() == 200; }, 60s))
      << "acked " << agent.AckedThrough() << "\n--- b ---\n"
      << Log(b.name);
  EXPECT_NE(Log(b.name).find("event=vehicle_taken_over vehicle=truck-7"), npos) << Log(b.name);

  // A continues and commits what it held: refused, nothing of it stored.
  a.process->Signal(SIGCONT);
  ASSERT_TRUE(test::WaitFor(
      [&] {
        const std::string log = Log(a.name);
        return log.find("event=commit_failed") != npos &&
               log.find("no longer owns vehicle truck-7") != npos;
      },
      30s))
      << Log(a.name);

  ExpectStoredOnceInOneChain(200, "paused-b");
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

// The fleet view across instances (issue 15 §3, server/shared_fleet.h): the truck's agent is
// connected to a, and GetFleet on b shows it where a judged it; a is killed -9, the agent fails
// over to b and drives on; a, started again under its name, shows b's newer positions, which
// its own monitor (the truck released to b) does not evaluate.
TEST_F(TwoInstancesTest, EveryInstanceShowsTheTruckWhereItsOwnerJudgedIt) {
  Instance a = Start("dispatch-a");
  Instance b = Start("dispatch-b");
  auto stub = [](const Instance& i) {
    return cit::v1::Dispatch::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(i.operator_port), grpc::InsecureChannelCredentials()));
  };
  // The truck's latitude in the instance's GetFleet (NaN when it shows no fix).
  auto lat_on = [](cit::v1::Dispatch::Stub& s) {
    grpc::ClientContext ctx;
    cit::v1::Fleet fleet;
    if (!s.GetFleet(&ctx, cit::v1::GetFleetRequest{}, &fleet).ok()) return std::nan("");
    for (const cit::v1::VehicleState& v : fleet.vehicles()) {
      if (v.vehicle_id() == "truck-7" && v.has_last_fix()) return v.last_fix().lat_deg();
    }
    return std::nan("");
  };
  auto fix_at = [](double lat) {
    cit::v1::Record r;
    r.mutable_fix()->set_lat_deg(lat);
    r.mutable_fix()->set_lon_deg(11.5);
    r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    return r;
  };
  // The operator's channels outlive the agent's (declared first). They were put first when gRPC
  // 1.51 aborted now and then as they went before the agent's; the cause was the uplink's (gRPC's
  // thread released the agent's last stream after Uplink::Shutdown; fixed, and tested by
  // UplinkTest.TornDownWithItsStreamOpen...), the order stays.
  auto on_b = stub(b);
  std::unique_ptr<cit::v1::Dispatch::Stub> on_a;
  test::TempDir journal;
  AgentSide agent(journal.path(), Uplink(a, b));
  ASSERT_TRUE(agent.start_status().ok()) << agent.start_status();
  agent.Add(fix_at(48.0));
  const uint64_t first = agent.Add(fix_at(48.001));
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= first; }, 30s)) << Log(a.name);
  EXPECT_TRUE(test::WaitFor([&] { return lat_on(*on_b) == 48.001; }, 20s))
      << "b shows " << lat_on(*on_b) << "\n"
      << Log(b.name);

  a.process->Signal(SIGKILL);
  a.process.reset();
  const uint64_t second = agent.Add(fix_at(48.002));
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= second; }, 60s)) << Log(b.name);
  // Under its name again (its log anew, so Start waits for this start): the truck is b's now.
  std::filesystem::rename(dir_.path() / "dispatch-a.log", dir_.path() / "dispatch-a.killed.log");
  a = Start("dispatch-a");
  on_a = stub(a);
  EXPECT_TRUE(test::WaitFor([&] { return lat_on(*on_a) == 48.002; }, 20s))
      << "a shows " << lat_on(*on_a) << "\n"
      << Log(a.name);
  EXPECT_EQ(lat_on(*on_b), 48.002);
  // The truck drives on, judged by b only: a follows.
  const uint64_t third = agent.Add(fix_at(48.003));
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= third; }, 30s)) << Log(b.name);
  EXPECT_TRUE(test::WaitFor([&] { return lat_on(*on_a) == 48.003; }, 20s))
      << "a shows " << lat_on(*on_a) << "\n"
      << Log(a.name);
}

// Issue 15 §3, adoption: the instance serving the truck is killed -9 and the truck's agent never
// reconnects (jammed): the survivor adopts the truck once the dead one's heartbeat has expired
// (instance_expiry_ms, database clock) and raises COMMS_LOST for it, once. The run's
// comms_loss_s is short so the test does not wait a minute.
TEST_F(TwoInstancesRunTest, KillNineWithTheAgentGoneTheSurvivorAdoptsAndRaisesCommsLostOnce) {
  {
    dispatch::SystemClock clock;
    dispatch::RunMonitoringOptions o;
    o.database_path = dir_.path() / "adopt-planner.db";
    o.postgres_connection = conninfo_;
    auto planner = dispatch::RunMonitoring::Open(o, &clock);
    ASSERT_TRUE(planner.ok()) << planner.status();
    cit::v1::RunPlan plan = KillPlan();
    plan.mutable_limits()->set_comms_loss_s(5);
    EXPECT_TRUE((*planner)->runs().Create(plan, "tester").ok());
    EXPECT_TRUE((*planner)->runs().Dispatch("run-kill", "tester").ok());
    (*planner)->Stop();
  }
  Tuning quick_expiry;
  quick_expiry.store_toml = "instance_expiry_ms = 3000";
  Instance a = Start("adopt-a", quick_expiry);
  Instance b = Start("adopt-b", quick_expiry);
  {
    // The agent knows only a, sends the depot records and is gone (jammed, destroyed).
    test::TempDir journal;
    AgentConfig::Uplink uplink = Uplink(a, b);
    uplink.servers.resize(1);
    AgentSide agent(journal.path(), uplink);
    ASSERT_TRUE(agent.start_status().ok()) << agent.start_status();
    const auto t0 = std::chrono::time_point_cast<std::chrono::seconds>(
        std::chrono::system_clock::now() - std::chrono::seconds(1800));
    const std::vector<cit::v1::Record> script = KillScript(t0);
    for (size_t k = 0; k < 100; ++k) agent.Add(script[k]);
    ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= 100; }, 60s)) << Log(a.name);
  }
  a.process->Signal(SIGKILL);
  a.process.reset();

  auto comms_lost = [&] {
    size_t n = 0;
    for (const AlertKey& k : StoredAlerts(conninfo_, 0)) {
      n += std::get<0>(k) == "ALERT_KIND_COMMS_LOST" ? 1 : 0;
    }
    return n;
  };
  ASSERT_TRUE(test::WaitFor([&] { return comms_lost() > 0; }, 60s)) << Log(b.name);
  EXPECT_NE(Log(b.name).find("event=vehicle_adopted vehicle=truck-7 previous_owner=adopt-a "
                             "previous_owner_state=expired"),
            npos)
      << Log(b.name);
  EXPECT_EQ(comms_lost(), 1u) << Log(b.name);
  pqxx::connection c(conninfo_);
  pqxx::read_transaction t(c);
  EXPECT_EQ(
      t.exec1("SELECT owner FROM vehicle_seq WHERE vehicle_id = 'truck-7'")[0].as<std::string>(),
      "adopt-b");
}

}  // namespace
}  // namespace cit::agent

namespace cit::agent {
namespace {

// --- The shared notification outbox: the queuing instance killed ------------------------------

// The escalating instance (a, holder of the escalation lease) queues the panic's notification in
// the outbox both share; the receiver refuses it (503) while both retry it; a is killed with
// SIGKILL (often with an attempt in flight: its claim then expires, 2 x timeout_ms + 2 s, before
// b takes it); the receiver comes back and b delivers it: one accepted request, with the key
// every attempt carried, one row (b's reconcile after taking the lease queued nothing again).
TEST_F(TwoInstancesTest, ANotificationQueuedOnAKilledInstanceIsDeliveredByTheOtherOnce) {
  test::HttpReceiver receiver;
  receiver.set_status(503);
  std::ofstream(dir_.path() / "hook.secret") << "s3cret\n";
  Tuning tuning;
  tuning.store_toml = "escalation_lease_ms = 1000";
  tuning.top_toml =
      "[notify]\ntick_ms = 20\nretry_base_ms = 50\nretry_max_ms = 200\n"
      "max_attempts = 1000\n"
      "[[notify.targets]]\nname = \"hook\"\nchannel = \"webhook\"\n"
      "url = \"http://127.0.0.1:" +
      std::to_string(receiver.port()) + "/citwatch\"\nsecret_file = \"" +
      (dir_.path() / "hook.secret").string() + "\"\ntimeout_ms = 1000\n" +
      "[[escalation]]\nkinds = [\"PANIC\"]\n"
      "[[escalation.steps]]\nafter_s = 0\nnotify = [\"hook\"]\n";
  Instance a = Start("dispatch-a", tuning);
  ASSERT_TRUE(test::WaitFor([&] { return Log(a.name).find("escalation_lease_taken") != npos; }))
      << Log(a.name);
  Instance b = Start("dispatch-b", tuning);
  test::TempDir journal;
  AgentSide agent(journal.path(), Uplink(a, b));
  ASSERT_TRUE(agent.start_status().ok()) << agent.start_status();
  agent.AddFixes(2);
  const uint64_t panic_seq = agent.AddPanic();
  ASSERT_TRUE(test::WaitFor([&] { return agent.AckedThrough() >= panic_seq; }, 30s)) << Log(a.name);
  ASSERT_TRUE(receiver.WaitRequests(2)) << "queued and attempted: " << Log(a.name);
  const std::string key = receiver.requests()[0].idempotency_key;
  a.process->Kill();
  // a's last request may still wait in the receiver's accept queue (the receiver serves one
  // connection at a time, in order): three more requests are at most that one, one of b's sent
  // before the kill, and one b sent after it, so a's is answered (503) before the receiver is up.
  ASSERT_TRUE(receiver.WaitRequests(receiver.requests().size() + 3, 30s)) << Log(b.name);
  receiver.set_status(200);

  auto delivered_by = [&]() -> std::string {
    pqxx::connection c(conninfo_);
    pqxx::read_transaction t(c);
    pqxx::result r = t.exec("SELECT delivered_by FROM notifications WHERE state = 'delivered'");
    return r.empty() ? "" : r[0][0].as<std::string>();
  };
  ASSERT_TRUE(test::WaitFor([&] { return !delivered_by().empty(); }, 30s)) << Log(b.name);
  EXPECT_EQ(delivered_by(), "dispatch-b");
  pqxx::connection c(conninfo_);
  pqxx::read_transaction t(c);
  const pqxx::row row = t.exec1("SELECT count(*), min(key), min(queued_by) FROM notifications");
  EXPECT_EQ(row[0].as<int64_t>(), 1) << "one notification, queued once";
  EXPECT_EQ(row[1].as<std::string>(), key);
  EXPECT_EQ(row[2].as<std::string>(), "dispatch-a");
  int accepted = 0;
  for (const auto& r : receiver.requests()) {
    EXPECT_EQ(r.idempotency_key, key);
    accepted += r.answered == 200;
  }
  EXPECT_EQ(accepted, 1) << Log(b.name);
}

}  // namespace
}  // namespace cit::agent
