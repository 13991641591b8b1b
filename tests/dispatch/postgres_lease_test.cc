// Several dispatch-server instances on one PostgreSQL database (issue 15 §3): the vehicle
// ownership lease and its fencing token in PostgresStore. Two stores opened on one fresh
// database with different instance names stand for two instances; the database is a real
// PostgreSQL 15 started by the test (tests/support/postgres_server.h).
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "dispatch-server/store/postgres_store.h"
#include "tests/dispatch/stored_fix.h"
#include "tests/support/postgres_server.h"

namespace cit::dispatch {
namespace {

using Clock = std::chrono::system_clock;

using test_records::Fix;

AppendBatch Fixes(const std::string& vehicle, uint64_t first, uint64_t last) {
  AppendBatch b;
  for (uint64_t s = first; s <= last; ++s) b.records.push_back(Fix(vehicle, s));
  return b;
}

class PostgresLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = test::SharedPostgres();
    ASSERT_NE(server_, nullptr);
    auto db = server_->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    conninfo_ = *db;
  }
  std::unique_ptr<PostgresStore> Instance(const std::string& name) {
    PostgresStoreOptions o;
    o.connection = conninfo_;
    o.instance = name;
    auto s = PostgresStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  test::PostgresServer* server_ = nullptr;
  std::string conninfo_;
};

TEST_F(PostgresLeaseTest, TheInstanceThatTakesAVehicleOverContinuesItsChainWhole) {
  auto a = Instance("a"), b = Instance("b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a->TakeOwnership("CIT-1"), 1u);
  AppendBatch first = Fixes("CIT-1", 1, 5);
  ASSERT_TRUE(a->Append(first).ok());
  // b loaded its state before a wrote: taking over reloads the vehicle from the database.
  EXPECT_EQ(*b->HighestContiguousSeq("CIT-1"), 0u);
  EXPECT_EQ(*b->TakeOwnership("CIT-1"), 2u);
  EXPECT_EQ(*b->HighestContiguousSeq("CIT-1"), 5u);
  AppendBatch second = Fixes("CIT-1", 6, 10);
  ASSERT_TRUE(b->Append(second).ok());
  EXPECT_EQ(second.records.front().chain_index, 6u);
  EXPECT_EQ(*b->CountRecords("CIT-1"), 10u);
  auto v = b->VerifyChain("CIT-1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok);
}

TEST_F(PostgresLeaseTest, AnInstanceThatLostAVehicleStoresNothingOfItsNextCommit) {
  auto a = Instance("a"), b = Instance("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->TakeOwnership("CIT-1").ok());
  AppendBatch first = Fixes("CIT-1", 1, 3);
  ASSERT_TRUE(a->Append(first).ok());
  ASSERT_TRUE(b->TakeOwnership("CIT-1").ok());  // a was paused past its lease: b has the truck

  // a wakes up with a commit for the truck it lost and for another one: refused whole.
  AppendBatch stale = Fixes("CIT-1", 4, 6);
  stale.records.push_back(Fix("CIT-2", 1));
  const absl::Status s = a->Append(stale);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("no longer owns vehicle CIT-1"), std::string_view::npos) << s;
  EXPECT_NE(s.message().find("nothing of this commit was stored"), std::string_view::npos) << s;
  EXPECT_EQ(*b->CountRecords("CIT-1"), 3u);
  EXPECT_EQ(*b->CountRecords("CIT-2"), 0u);

  // The owner goes on; a still writes for the truck nobody took from it.
  AppendBatch next = Fixes("CIT-1", 4, 6);
  ASSERT_TRUE(b->Append(next).ok());
  AppendBatch other = Fixes("CIT-2", 1, 1);
  ASSERT_TRUE(a->Append(other).ok());
  EXPECT_EQ(*b->CountRecords("CIT-1"), 6u);
  EXPECT_TRUE(b->VerifyChain("CIT-1")->ok);

  // Taking it back works the same way round, and fences b.
  ASSERT_TRUE(a->TakeOwnership("CIT-1").ok());
  EXPECT_EQ(*a->HighestContiguousSeq("CIT-1"), 6u);
  AppendBatch late = Fixes("CIT-1", 7, 7);
  EXPECT_EQ(b->Append(late).code(), absl::StatusCode::kFailedPrecondition);
  AppendBatch again = Fixes("CIT-1", 7, 8);
  ASSERT_TRUE(a->Append(again).ok());
  EXPECT_TRUE(a->VerifyChain("CIT-1")->ok);
}

TEST_F(PostgresLeaseTest, AnInstanceRestartedUnderItsNameKeepsItsVehiclesAndOthersStayFenced) {
  {
    auto a = Instance("a");
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->TakeOwnership("CIT-1").ok());
    AppendBatch first = Fixes("CIT-1", 1, 2);
    ASSERT_TRUE(a->Append(first).ok());
  }
  auto a = Instance("a"), c = Instance("c");
  ASSERT_TRUE(a && c);
  AppendBatch next = Fixes("CIT-1", 3, 3);
  ASSERT_TRUE(a->Append(next).ok()) << "its own lease, found again at start";
  AppendBatch intruder = Fixes("CIT-1", 4, 4);
  EXPECT_EQ(c->Append(intruder).code(), absl::StatusCode::kFailedPrecondition)
      << "a vehicle another instance owns is not written without taking it over";
  EXPECT_EQ(*a->CountRecords("CIT-1"), 3u);
}

TEST_F(PostgresLeaseTest, TakingOwnershipNeedsAnInstanceNameAndAStoreWithoutOneWritesAsBefore) {
  auto only = Instance("");
  ASSERT_TRUE(only);
  const auto taken = only->TakeOwnership("CIT-1");
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(taken.status().message().find("instance"), std::string_view::npos);
  AppendBatch first = Fixes("CIT-1", 1, 2);
  ASSERT_TRUE(only->Append(first).ok());
  AppendBatch second = Fixes("CIT-1", 3, 4);
  ASSERT_TRUE(only->Append(second).ok());
  EXPECT_EQ(*only->HighestContiguousSeq("CIT-1"), 4u);
}

// Takeovers run on their own connection beside the group commits (no longer behind them): a
// vehicle taken over again by the instance already writing it, while its commits go on, keeps
// one whole chain, and none of those commits is refused; new vehicles taken over meanwhile get
// their first token.
TEST_F(PostgresLeaseTest, TakeoversBesideGroupCommitsRefuseNoneOfTheOwnersCommits) {
  auto a = Instance("a");
  ASSERT_TRUE(a);
  constexpr int kVehicles = 6, kRounds = 40, kPerRound = 5;
  auto name = [](const char* prefix, int i) { return prefix + std::to_string(i); };
  for (int v = 0; v < kVehicles; ++v) ASSERT_TRUE(a->TakeOwnership(name("CIT-", v)).ok());

  std::vector<absl::Status> failed;
  std::thread commits([&] {
    for (int r = 0; r < kRounds; ++r) {
      AppendBatch batch;
      for (int v = 0; v < kVehicles; ++v) {
        const uint64_t first = static_cast<uint64_t>(r * kPerRound + 1);
        for (uint64_t s = first; s < first + kPerRound; ++s) {
          batch.records.push_back(Fix(name("CIT-", v), s));
        }
      }
      if (absl::Status s = a->Append(batch); !s.ok()) failed.push_back(s);
    }
  });
  std::vector<absl::Status> takeover_failed;
  for (int i = 0; i < kRounds; ++i) {
    if (auto t = a->TakeOwnership(name("CIT-", i % kVehicles)); !t.ok()) {
      takeover_failed.push_back(t.status());
    }
    auto fresh = a->TakeOwnership(name("NEW-", i));
    if (!fresh.ok()) {
      takeover_failed.push_back(fresh.status());
    } else {
      EXPECT_EQ(*fresh, 1u);
    }
  }
  commits.join();

  EXPECT_TRUE(failed.empty()) << failed.front();
  EXPECT_TRUE(takeover_failed.empty()) << takeover_failed.front();
  for (int v = 0; v < kVehicles; ++v) {
    const std::string vehicle = name("CIT-", v);
    EXPECT_EQ(*a->CountRecords(vehicle), static_cast<uint64_t>(kRounds * kPerRound)) << vehicle;
    EXPECT_EQ(*a->HighestContiguousSeq(vehicle), static_cast<uint64_t>(kRounds * kPerRound));
    auto verified = a->VerifyChain(vehicle);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << vehicle;
  }
}

}  // namespace
}  // namespace cit::dispatch
