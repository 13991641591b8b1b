// Alerts from several dispatch-server instances on one PostgreSQL database (issue 15 §3): two
// PostgresAlertStores (each with its own connection) and their AlertManagers on one fresh
// database of the test's own PostgreSQL stand for two instances.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "dispatch-server/alerts/alert_manager.h"
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

}  // namespace
}  // namespace cit::dispatch
