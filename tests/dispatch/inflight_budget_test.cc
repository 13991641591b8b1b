// InflightBudget's admission rules on their own: first come first resumed, the light reserve,
// streams that ended while waiting.
#include "dispatch-server/ingest/inflight_budget.h"

#include <gtest/gtest.h>

#include <vector>

namespace cit::dispatch {
namespace {

class FakeWaiter final : public BudgetWaiter {
 public:
  FakeWaiter(std::vector<int>* log, int id, bool reads = true)
      : log_(log), id_(id), reads_(reads) {}
  bool OnBudgetAdmitted(Reservation) override {
    log_->push_back(id_);
    return reads_;
  }

 private:
  std::vector<int>* log_;
  int id_;
  bool reads_;
};

class InflightBudgetTest : public ::testing::Test {
 protected:
  InflightBudgetOptions Options() {
    InflightBudgetOptions o;
    o.max_records = 100;
    o.max_bytes = 10'000;
    o.reserve_records = 10;
    o.reserve_bytes = 1'000;
    return o;
  }
  MetricsRegistry metrics_;
  std::vector<int> admitted_;
};

TEST_F(InflightBudgetTest, WaitersAreResumedFirstComeFirstServedAsCommitsFreeBudget) {
  InflightBudget budget(Options(), &metrics_);
  auto a = std::make_shared<FakeWaiter>(&admitted_, 1);
  auto b = std::make_shared<FakeWaiter>(&admitted_, 2);
  auto c = std::make_shared<FakeWaiter>(&admitted_, 3);
  const Reservation r = budget.TryReserve(a, {60, 600}, false);
  ASSERT_NE(r.id, 0u);
  budget.Charge(60, 600);
  budget.Unreserve(r);
  EXPECT_FALSE(budget.TryReserve(b, {50, 500}, false).id != 0);
  // c would fit (30 <= 40 left) but b waits ahead of it.
  EXPECT_FALSE(budget.TryReserve(c, {30, 300}, false).id != 0);
  EXPECT_EQ(budget.Stats().waiting, 2u);
  EXPECT_EQ(budget.Stats().waits, 2u);
  budget.Release(60, 600);  // committed
  EXPECT_EQ(admitted_, (std::vector<int>{2, 3}));
  EXPECT_EQ(budget.Stats().reserved_records, 80u);
  EXPECT_EQ(budget.Stats().waiting, 0u);
  EXPECT_EQ(budget.Stats().peak_records, 60u);
}

TEST_F(InflightBudgetTest, LightReadsUseTheReserveThatBacklogReadsCannot) {
  InflightBudget budget(Options(), &metrics_);
  auto heavy = std::make_shared<FakeWaiter>(&admitted_, 1);
  auto waiting_heavy = std::make_shared<FakeWaiter>(&admitted_, 2);
  auto live = std::make_shared<FakeWaiter>(&admitted_, 3);
  ASSERT_TRUE(budget.TryReserve(heavy, {100, 1000}, false).id != 0);
  EXPECT_FALSE(budget.TryReserve(waiting_heavy, {1, 100}, false).id != 0);  // heavy: no reserve
  EXPECT_TRUE(budget.TryReserve(live, {1, 100}, true).id != 0);             // light: the reserve
  EXPECT_EQ(budget.Stats().reserved_records, 101u);
}

TEST_F(InflightBudgetTest, WaitersThatEndedAreSkippedAndTheirShareGoesToTheNext) {
  InflightBudget budget(Options(), &metrics_);
  auto first = std::make_shared<FakeWaiter>(&admitted_, 1);
  auto gone = std::make_shared<FakeWaiter>(&admitted_, 2);
  auto ended = std::make_shared<FakeWaiter>(&admitted_, 3, /*reads=*/false);
  auto last = std::make_shared<FakeWaiter>(&admitted_, 4);
  const Reservation r = budget.TryReserve(first, {100, 100}, false);
  ASSERT_NE(r.id, 0u);
  EXPECT_FALSE(budget.TryReserve(gone, {100, 100}, false).id != 0);
  EXPECT_FALSE(budget.TryReserve(ended, {100, 100}, false).id != 0);
  EXPECT_FALSE(budget.TryReserve(last, {100, 100}, false).id != 0);
  gone.reset();         // destroyed while waiting
  budget.Unreserve(r);  // the first read failed
  // 2 is gone; 3 is admitted but no longer reads and hands its share on to 4.
  EXPECT_EQ(admitted_, (std::vector<int>{3, 4}));
  EXPECT_EQ(budget.Stats().reserved_records, 100u);
}

// A read posted to an agent that then sends nothing must not hold its share for good.
TEST_F(InflightBudgetTest, IdleReadsGiveTheirReservationBackAndWaitersGoOn) {
  InflightBudgetOptions o = Options();
  o.idle_after = std::chrono::milliseconds(0);
  InflightBudget budget(o, &metrics_);
  auto idle = std::make_shared<FakeWaiter>(&admitted_, 1);
  auto next = std::make_shared<FakeWaiter>(&admitted_, 2);
  const Reservation r = budget.TryReserve(idle, {100, 100}, false);
  ASSERT_NE(r.id, 0u);
  EXPECT_EQ(budget.TryReserve(next, {100, 100}, false).id, 0u);
  EXPECT_TRUE(budget.HasWaiters());
  budget.ExpireIdle();
  EXPECT_EQ(admitted_, (std::vector<int>{2}));
  EXPECT_FALSE(budget.HasWaiters());
  EXPECT_EQ(budget.Stats().reserved_records, 100u);
  budget.Unreserve(r);  // the idle read's message came after all: nothing given back twice
  EXPECT_EQ(budget.Stats().reserved_records, 100u);
}

TEST_F(InflightBudgetTest, AReadLargerThanTheWholeBudgetIsAdmittedWhenNothingIsInFlight) {
  InflightBudget budget(Options(), &metrics_);
  auto big = std::make_shared<FakeWaiter>(&admitted_, 1);
  EXPECT_TRUE(budget.TryReserve(big, {500, 50'000}, false).id != 0);
}

TEST_F(InflightBudgetTest, GaugesShowWhatIsInFlight) {
  InflightBudget budget(Options(), &metrics_);
  budget.Charge(42, 4200);
  const std::string text = metrics_.Render();
  EXPECT_NE(text.find("cit_ingest_inflight_records 42"), std::string::npos) << text;
  EXPECT_NE(text.find("cit_ingest_inflight_bytes 4200"), std::string::npos);
  EXPECT_NE(text.find("cit_ingest_budget_waiting_streams 0"), std::string::npos);
}

}  // namespace
}  // namespace cit::dispatch
