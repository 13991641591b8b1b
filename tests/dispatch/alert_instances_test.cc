// Alerts from several dispatch-server instances on one PostgreSQL database (issue 15 §3): two
// PostgresAlertStores (each with its own connection) and their AlertManagers on one fresh
// database of the test's own PostgreSQL stand for two instances.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/api/alerts_service.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/store/postgres_alert_store.h"
#include "tests/support/postgres_server.h"

namespace cit::dispatch {
namespace {

AlertSignal Panic(const std::string& subject, SysTime t) {
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_PANIC;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.subject = subject;
  sig.event_time = t;
  return sig;
}

// This instance's stream as a WatchAlerts client reads it: from when it was made on, woken by
// the manager's listener.
class Watcher {
 public:
  explicit Watcher(AlertManager& m) : m_(m) {
    m_.OpenSnapshot(AlertFilter{}, &cursor_);
    listener_ = m_.AddListener([this] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++wakeups_;
      }
      cv_.notify_all();
    });
  }
  ~Watcher() { m_.RemoveListener(listener_); }

  // Reads on until `done(events so far)` holds or 20 s pass (then fails the test).
  const std::vector<cit::v1::AlertEvent>& WaitFor(
      const std::function<bool(const std::vector<cit::v1::AlertEvent>&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      uint64_t seen = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen = wakeups_;
      }
      ReadAll();
      if (done(events_)) return events_;
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_until(lock, deadline, [&] { return wakeups_ != seen; })) {
        ADD_FAILURE() << "timed out with " << events_.size() << " events";
        return events_;
      }
    }
  }

 private:
  void ReadAll() {
    while (true) {
      auto next = m_.ReadEvents(cursor_, AlertFilter{}, 100, &events_);
      ASSERT_TRUE(next.ok()) << next.status();
      if (*next == cursor_) return;
      cursor_ = *next;
    }
  }

  AlertManager& m_;
  uint64_t cursor_ = 0;
  std::vector<cit::v1::AlertEvent> events_;
  int listener_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;
};

size_t CountType(const std::vector<cit::v1::AlertEvent>& events, cit::v1::AlertEventType type) {
  return std::count_if(events.begin(), events.end(),
                       [&](const cit::v1::AlertEvent& e) { return e.type() == type; });
}

class AlertInstancesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = test::SharedPostgres();
    ASSERT_NE(server_, nullptr);
    auto db = server_->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    conninfo_ = *db;
    database_ = conninfo_.substr(conninfo_.find("dbname=") + 7);
    database_ = database_.substr(0, database_.find(' '));
  }
  std::unique_ptr<PostgresAlertStore> Instance() {
    auto s = PostgresAlertStore::Open(conninfo_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Every stored event, ascending chain position.
  std::vector<cit::v1::AlertEvent> StoredEvents() {
    pqxx::connection c(conninfo_);
    pqxx::read_transaction t(c);
    std::vector<cit::v1::AlertEvent> out;
    for (const pqxx::row& r : t.exec("SELECT proto FROM alert_events ORDER BY chain_index")) {
      out.emplace_back().ParseFromString(pg::Bytes(r[0]));
    }
    return out;
  }
  uint64_t Count(const std::string& sql) {
    pqxx::connection c(conninfo_);
    pqxx::read_transaction t(c);
    return t.exec(sql)[0][0].as<uint64_t>();
  }

  test::PostgresServer* server_ = nullptr;
  std::string conninfo_;
  std::string database_;
  FakeClock clock_{FromUnixSeconds(1'796'000'000)};
};

TEST_F(AlertInstancesTest, IdBlocksReservedConcurrentlyFromTwoStoresNeverOverlap) {
  auto a = Instance(), b = Instance();
  ASSERT_TRUE(a && b);
  constexpr int kThreads = 4, kBlocks = 40;
  std::vector<std::vector<AlertStore::IdBlocks>> taken(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      AlertStore* store = i % 2 == 0 ? a.get() : b.get();
      for (int n = 0; n < kBlocks; ++n) {
        auto block = store->ReserveIds(3, 5);
        ASSERT_TRUE(block.ok()) << block.status();
        taken[i].push_back(*block);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint64_t> alert_ids, event_ids;
  for (const auto& blocks : taken) {
    for (const AlertStore::IdBlocks& block : blocks) {
      ASSERT_EQ(block.alert_last + 1 - block.alert_first, 3u);
      ASSERT_EQ(block.event_last + 1 - block.event_first, 5u);
      for (uint64_t id = block.alert_first; id <= block.alert_last; ++id) {
        EXPECT_TRUE(alert_ids.insert(id).second) << "alert id " << id << " reserved twice";
      }
      for (uint64_t id = block.event_first; id <= block.event_last; ++id) {
        EXPECT_TRUE(event_ids.insert(id).second) << "event id " << id << " reserved twice";
      }
    }
  }
  EXPECT_EQ(alert_ids.size(), 3u * kThreads * kBlocks);
  EXPECT_EQ(*alert_ids.rbegin(), 3u * kThreads * kBlocks) << "blocks follow each other";
}

// Two managers raise and acknowledge alerts from two threads each, with tiny id blocks so that
// they reserve hundreds of times while the other appends: every id is distinct, everything is
// stored, and the appends of both form one chain that verifies.
TEST_F(AlertInstancesTest, TwoManagersRaisingConcurrentlyShareIdsAndOneChain) {
  auto store_a = Instance(), store_b = Instance();
  ASSERT_TRUE(store_a && store_b);
  AlertManager a(store_a.get(), &clock_, 200'000, /*id_block=*/4);
  AlertManager b(store_b.get(), &clock_, 200'000, /*id_block=*/4);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  constexpr int kPerThread = 60;
  std::vector<std::vector<uint64_t>> ids(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      AlertManager& m = i % 2 == 0 ? a : b;
      for (int n = 0; n < kPerThread; ++n) {
        const std::string truck = absl::StrCat("truck-", i);
        auto id = m.Raise({truck, "R-1"}, Panic(absl::StrCat("gpio:", n), clock_.Now()), 0);
        ASSERT_TRUE(id.ok()) << id.status();
        ids[i].push_back(*id);
        // Every third one acknowledged: an operator action waits until stored.
        if (n % 3 == 0) {
          ASSERT_TRUE(m.Acknowledge(*id, "alice", "on it").ok());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(a.WaitStored().ok());
  ASSERT_TRUE(b.WaitStored().ok());

  std::set<uint64_t> alert_ids;
  for (const auto& of_thread : ids) alert_ids.insert(of_thread.begin(), of_thread.end());
  EXPECT_EQ(alert_ids.size(), 4u * kPerThread) << "an alert id was handed out twice";
  EXPECT_EQ(Count("SELECT count(*) FROM alerts"), 4u * kPerThread);
  const uint64_t events = 4u * kPerThread + 4u * (kPerThread / 3);
  std::vector<cit::v1::AlertEvent> stored = StoredEvents();
  ASSERT_EQ(stored.size(), events);
  std::set<uint64_t> event_ids;
  for (const cit::v1::AlertEvent& e : stored) event_ids.insert(e.event_id());
  EXPECT_EQ(event_ids.size(), events) << "an event id was handed out twice";

  auto report = store_a->VerifyChain();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->intact) << report->first_bad << ": " << report->problem;
  EXPECT_EQ(report->length, events);
}

// Interleaved batches appended through two stores form one chain, positions 1..n in commit
// order; a row chained onto a stale head (what a writer keeping the head in memory would add
// after the other instance appended) is found by the chain check, and one at a position already
// taken is refused.
TEST_F(AlertInstancesTest, InterleavedAppendsFromTwoStoresFormOneChainAndAForkIsFound) {
  auto a = Instance(), b = Instance();
  ASSERT_TRUE(a && b);
  uint64_t next_id = 1;
  for (int round = 0; round < 10; ++round) {
    for (PostgresAlertStore* store : {a.get(), b.get()}) {
      std::vector<cit::v1::AlertEvent> batch(3);
      for (cit::v1::AlertEvent& e : batch) {
        e.set_event_id(next_id);
        e.mutable_alert()->set_alert_id(next_id++);
        e.mutable_alert()->set_vehicle_id("truck-7");
      }
      ASSERT_TRUE(store->Append(batch).ok());
    }
  }
  auto report = b->VerifyChain();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->intact) << report->first_bad << ": " << report->problem;
  EXPECT_EQ(report->length, 60u);
  EXPECT_EQ(Count("SELECT count(DISTINCT chain_index) FROM alert_events WHERE chain_index "
                  "BETWEEN 1 AND 60"),
            60u);

  // The fork: an event chained onto h_59 instead of h_60.
  cit::v1::AlertEvent forked;
  forked.set_event_id(1000);
  forked.mutable_alert()->set_alert_id(1000);
  const std::string body = forked.SerializeAsString();
  std::string stale_head;
  {
    pqxx::connection c(conninfo_);
    pqxx::read_transaction t(c);
    stale_head = pg::Bytes(t.exec("SELECT hash FROM alert_events WHERE chain_index = 59")[0][0]);
  }
  auto Insert = [&](uint64_t index) {
    absl::StatusOr<std::string> hash = AlertEventHash(stale_head, index, 1000, body);
    EXPECT_TRUE(hash.ok());
    return server_->Exec(
        database_,
        absl::StrCat("INSERT INTO alert_events (event_id, alert_id, proto, chain_index, hash) "
                     "VALUES (1000, 1000, '\\x",
                     absl::BytesToHexString(body), "', ", index, ", '\\x",
                     absl::BytesToHexString(*hash), "')"));
  };
  EXPECT_FALSE(Insert(60).ok()) << "position 60 is taken";
  ASSERT_TRUE(Insert(61).ok());
  report = a->VerifyChain();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->intact);
  EXPECT_EQ(report->first_bad_index, 61u);
  EXPECT_NE(report->problem.find("hash mismatch"), std::string::npos) << report->problem;
}

// Fan-out: each instance's watchers get the other's alert events too, each event once and the
// events of each alert in order; an alert raised on one is acknowledged or resolved on the
// other, and the first follows.
TEST_F(AlertInstancesTest, EachInstancePublishesTheOthersEventsAndActionsWorkOnEither) {
  auto store_a = Instance(), store_b = Instance();
  ASSERT_TRUE(store_a && store_b);
  AlertManager a(store_a.get(), &clock_);
  AlertManager b(store_b.get(), &clock_);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  const AlertManager::FollowOptions follow{.interval = std::chrono::milliseconds(5), .batch = 3};
  ASSERT_TRUE(a.StartFollowing(follow).ok());
  ASSERT_TRUE(b.StartFollowing(follow).ok());
  Watcher on_a(a), on_b(b);

  std::vector<uint64_t> raised_on_a, raised_on_b;
  for (int n = 0; n < 4; ++n) {
    raised_on_a.push_back(
        *a.Raise({"truck-1", "R-1"}, Panic(absl::StrCat("gpio:", n), clock_.Now()), 0));
    raised_on_b.push_back(
        *b.Raise({"truck-2", "R-2"}, Panic(absl::StrCat("gpio:", n), clock_.Now()), 0));
  }
  auto all_raised = [](const std::vector<cit::v1::AlertEvent>& events) {
    return CountType(events, cit::v1::ALERT_EVENT_TYPE_RAISED) >= 8;
  };
  on_a.WaitFor(all_raised);
  on_b.WaitFor(all_raised);

  // Operator actions on the instance that did not raise the alert.
  auto acked = b.Acknowledge(raised_on_a[0], "alice", "calling the crew");
  ASSERT_TRUE(acked.ok()) << acked.status();
  auto resolved = a.Resolve(raised_on_b[1], "bob", "false alarm, button pressed by mistake");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  auto actions_done = [](const std::vector<cit::v1::AlertEvent>& events) {
    return CountType(events, cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED) >= 1 &&
           CountType(events, cit::v1::ALERT_EVENT_TYPE_RESOLVED) >= 1;
  };
  const std::vector<cit::v1::AlertEvent> seen_on_a = on_a.WaitFor(actions_done);
  const std::vector<cit::v1::AlertEvent> seen_on_b = on_b.WaitFor(actions_done);
  EXPECT_EQ(a.Get(raised_on_a[0])->state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_EQ(a.Get(raised_on_a[0])->actions(0).actor(), "alice");
  EXPECT_EQ(b.Get(raised_on_b[1])->state(), cit::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(b.OpenCount("truck-2"), 3u) << "resolved on a: no longer open on b";
  // The condition coming back on a for the acknowledged alert updates it, not a new one.
  EXPECT_EQ(*a.Raise({"truck-1", "R-1"}, Panic("gpio:0", clock_.Now()), 0), raised_on_a[0]);

  for (const auto* seen : {&seen_on_a, &seen_on_b}) {
    ASSERT_EQ(seen->size(), 10u);
    std::set<uint64_t> ids;
    std::map<uint64_t, uint32_t> revision;
    for (const cit::v1::AlertEvent& e : *seen) {
      EXPECT_TRUE(ids.insert(e.event_id()).second) << "event " << e.event_id() << " twice";
      const uint64_t alert = e.alert().alert_id();
      EXPECT_GT(e.alert().revision(), revision[alert]) << "alert " << alert << " out of order";
      revision[alert] = e.alert().revision();
    }
  }
  ASSERT_TRUE(a.WaitStored().ok());
  auto report = store_b->VerifyChain();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->intact) << report->first_bad << ": " << report->problem;
  EXPECT_EQ(report->length, 11u);
}

// A watcher that resumes after an event it saw gets what followed it in that instance's stream,
// also when the event came from the other instance with a lower id than this instance's.
TEST_F(AlertInstancesTest, AWatcherResumesAfterAnEventOfTheOtherInstance) {
  auto store_a = Instance(), store_b = Instance();
  ASSERT_TRUE(store_a && store_b);
  AlertManager a(store_a.get(), &clock_);
  AlertManager b(store_b.get(), &clock_);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  Watcher on_a(a);
  const uint64_t low = *b.Raise({"truck-2", "R-2"}, Panic("gpio:1", clock_.Now()), 0);
  ASSERT_TRUE(b.WaitStored().ok());
  // a takes the next block: its ids lie above b's, and its event comes first in its stream.
  ASSERT_GT(*a.Raise({"truck-1", "R-1"}, Panic("gpio:1", clock_.Now()), 0), low);
  ASSERT_TRUE(a.StartFollowing({.interval = std::chrono::milliseconds(5)}).ok());
  const std::vector<cit::v1::AlertEvent> seen =
      on_a.WaitFor([](const auto& events) { return events.size() >= 2; });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].alert().vehicle_id(), "truck-1");
  EXPECT_EQ(seen[1].alert().vehicle_id(), "truck-2");
  ASSERT_TRUE(a.Raise({"truck-1", "R-1"}, Panic("gpio:2", clock_.Now()), 0).ok());
  // Resuming after b's event (the lower id) delivers only what came after it here.
  std::vector<cit::v1::AlertEvent> resumed;
  ASSERT_TRUE(
      a.ReadEvents(a.CursorAfterEvent(seen[1].event_id()), AlertFilter{}, 10, &resumed).ok());
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0].alert().subject(), "gpio:2");
}

// An instance that changed an alert before it saw the acknowledgement made on the other (its
// event stored after the other's) does not turn the stored current state back to open: a
// restart loads it acknowledged.
TEST_F(AlertInstancesTest, AStaleChangeDoesNotTurnTheStoredStateBack) {
  auto a = Instance(), b = Instance();
  ASSERT_TRUE(a && b);
  cit::v1::AlertEvent raised;
  raised.set_event_id(1);
  raised.set_type(cit::v1::ALERT_EVENT_TYPE_RAISED);
  raised.mutable_alert()->set_alert_id(1);
  raised.mutable_alert()->set_vehicle_id("truck-7");
  raised.mutable_alert()->set_state(cit::v1::ALERT_STATE_OPEN);
  raised.mutable_alert()->set_revision(1);
  ASSERT_TRUE(a->Append({&raised, 1}).ok());
  cit::v1::AlertEvent acked = raised;
  acked.set_event_id(10'001);
  acked.set_type(cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED);
  acked.mutable_alert()->set_state(cit::v1::ALERT_STATE_ACKNOWLEDGED);
  acked.mutable_alert()->set_revision(2);
  ASSERT_TRUE(b->Append({&acked, 1}).ok());
  cit::v1::AlertEvent updated = raised;  // made on a before it saw the acknowledgement
  updated.set_event_id(2);
  updated.set_type(cit::v1::ALERT_EVENT_TYPE_UPDATED);
  updated.mutable_alert()->set_details("412 m off route");
  updated.mutable_alert()->set_revision(2);
  ASSERT_TRUE(a->Append({&updated, 1}).ok());
  auto loaded = Instance()->Load(10);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->alerts.size(), 1u);
  EXPECT_EQ(loaded->alerts[0].state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_EQ(loaded->recent_events.size(), 3u) << "the log keeps every change";
}

// The follower survives a lost database connection: the failed read is logged and counted,
// retried from the same position on a new connection, and nothing is skipped.
TEST_F(AlertInstancesTest, AFollowerThatLosesItsConnectionRetriesAndSkipsNothing) {
  auto store_a = Instance(), store_b = Instance();
  ASSERT_TRUE(store_a && store_b);
  AlertManager a(store_a.get(), &clock_);
  AlertManager b(store_b.get(), &clock_);
  auto metrics = std::make_shared<MetricsRegistry>();
  b.SetMetrics(metrics);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  Watcher on_b(b);
  // Ids reserved before the connections go: the next raises need no database round trip.
  const uint64_t id = *a.Raise({"truck-1", "R-1"}, Panic("gpio:1", clock_.Now()), 0);
  ASSERT_TRUE(a.WaitStored().ok());
  ASSERT_TRUE(server_
                  ->Exec(database_,
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                         "current_database() AND pid <> pg_backend_pid()")
                  .ok());
  ASSERT_TRUE(b.StartFollowing({.interval = std::chrono::milliseconds(5)}).ok());
  ASSERT_TRUE(a.Raise({"truck-1", "R-1"}, Panic("gpio:2", clock_.Now()), 0).ok());
  const std::vector<cit::v1::AlertEvent> seen =
      on_b.WaitFor([](const auto& events) { return events.size() >= 2; });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].alert().alert_id(), id);
  EXPECT_EQ(seen[1].alert().subject(), "gpio:2");
  EXPECT_GE(metrics
                ->GetCounter("cit_alert_follow_errors_total",
                             "Failed reads of the alert-event log for other instances' events "
                             "(retried)")
                .value(),
            1u);
  EXPECT_EQ(metrics
                ->GetCounter("cit_alert_events_followed_total",
                             "Alert events stored by other instances on the same database and "
                             "published here")
                .value(),
            2u);
}

// One instance's Alerts service on loopback, as a WatchAlerts client reaches it.
class AlertsEndpoint {
 public:
  explicit AlertsEndpoint(AlertManager* alerts) : service_(alerts) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = cit::v1::Alerts::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  ~AlertsEndpoint() { server_->Shutdown(); }
  int watchers() const { return service_.watchers(); }

  // Reads `count` events of a WatchAlerts stream opened with `req`, then hangs up.
  std::vector<cit::v1::AlertEvent> Watch(const cit::v1::WatchAlertsRequest& req, size_t count) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto reader = stub_->WatchAlerts(&ctx, req);
    std::vector<cit::v1::AlertEvent> out;
    cit::v1::AlertEvent e;
    while (out.size() < count && reader->Read(&e)) out.push_back(e);
    ctx.TryCancel();
    reader->Finish();
    return out;
  }
  // The status a WatchAlerts stream opened with `req` ends with.
  grpc::Status WatchStatus(const cit::v1::WatchAlertsRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    auto reader = stub_->WatchAlerts(&ctx, req);
    cit::v1::AlertEvent e;
    while (reader->Read(&e)) {
    }
    return reader->Finish();
  }

 private:
  AlertsService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<cit::v1::Alerts::Stub> stub_;
};

std::vector<uint64_t> Ids(const std::vector<cit::v1::AlertEvent>& events) {
  std::vector<uint64_t> ids;
  for (const cit::v1::AlertEvent& e : events) ids.push_back(e.event_id());
  return ids;
}

// The resume token is a commit-ordered cursor: events committed alternately by two instances
// (ids out of commit order: b's block lies below a's) and watched on a; a watcher that hung up
// in the middle resumes with the token of the last event it read, on b or on a again, and gets
// every later event once, in commit order, those committed while it was away included.
TEST_F(AlertInstancesTest, AWatcherResumesWithItsTokenOnEitherInstanceInCommitOrder) {
  auto store_a = Instance(), store_b = Instance();
  ASSERT_TRUE(store_a && store_b);
  AlertManager a(store_a.get(), &clock_, 200'000, /*id_block=*/100);
  AlertManager b(store_b.get(), &clock_, 200'000, /*id_block=*/100);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  const AlertManager::FollowOptions follow{.interval = std::chrono::milliseconds(5), .batch = 3};
  ASSERT_TRUE(a.StartFollowing(follow).ok());
  ASSERT_TRUE(b.StartFollowing(follow).ok());
  AlertsEndpoint on_a(&a), on_b(&b);

  // Each raised and stored before the next: commit order is the order of the raises.
  auto raise_alternately = [&](int from, int to) {
    for (int n = from; n < to; ++n) {
      AlertManager& m = n % 2 == 0 ? a : b;
      const std::string vehicle = n % 2 == 0 ? "truck-1" : "truck-2";
      ASSERT_TRUE(
          m.Raise({vehicle, "R"}, Panic(absl::StrCat("gpio:", n + 1), clock_.Now()), 0).ok());
      ASSERT_TRUE(m.WaitStored().ok());
    }
  };
  std::vector<cit::v1::AlertEvent> first;
  std::thread watcher([&] { first = on_a.Watch({}, 9); });
  while (on_a.watchers() == 0) std::this_thread::yield();  // its stream is open
  ASSERT_TRUE(b.Raise({"truck-2", "R-2"}, Panic("gpio:0", clock_.Now()), 0).ok());  // b: 1..100
  ASSERT_TRUE(b.WaitStored().ok());
  raise_alternately(0, 8);  // a's ids from 101
  watcher.join();
  ASSERT_EQ(first.size(), 9u);
  const std::vector<cit::v1::AlertEvent> committed = StoredEvents();
  ASSERT_EQ(committed.size(), 9u);
  EXPECT_GT(committed[1].event_id(), committed[2].event_id()) << "ids not in commit order";

  // Hung up after the fifth; three more are committed while it is away.
  const std::string token = first[4].resume_token();
  ASSERT_FALSE(token.empty());
  raise_alternately(8, 11);
  std::set<uint64_t> seen;
  for (size_t i = 0; i <= 4; ++i) seen.insert(first[i].event_id());
  std::vector<uint64_t> expected;
  for (const cit::v1::AlertEvent& e : StoredEvents()) {
    if (seen.count(e.event_id()) == 0) expected.push_back(e.event_id());
  }
  ASSERT_EQ(expected.size(), 12u - 5u);

  cit::v1::WatchAlertsRequest resume;
  resume.set_resume_token(token);
  EXPECT_EQ(Ids(on_b.Watch(resume, expected.size())), expected) << "resumed on the other";
  EXPECT_EQ(Ids(on_a.Watch(resume, expected.size())), expected) << "resumed where it was";
  // Nothing more follows: a watch on b from the token of the last event gets the next one only.
  const std::vector<cit::v1::AlertEvent> rest = on_b.Watch(resume, expected.size());
  ASSERT_EQ(rest.size(), expected.size());
  cit::v1::WatchAlertsRequest after_last;
  after_last.set_resume_token(rest.back().resume_token());
  std::vector<cit::v1::AlertEvent> next;
  std::thread next_watcher([&] { next = on_b.Watch(after_last, 1); });
  ASSERT_TRUE(a.Raise({"truck-1", "R"}, Panic("gpio:99", clock_.Now()), 0).ok());
  next_watcher.join();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].alert().subject(), "gpio:99");

  cit::v1::WatchAlertsRequest bad;
  bad.set_resume_token("not-a-token");
  EXPECT_EQ(on_b.WatchStatus(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cit::dispatch
