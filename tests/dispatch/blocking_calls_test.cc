// BlockingCalls: calls run on the pool's threads, at most max_queued wait (the next is refused,
// nothing of it run), Stop runs what is queued before it joins, and Submit after Stop refuses.
#include "dispatch-server/common/blocking_calls.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace cit::dispatch {
namespace {

TEST(BlockingCallsTest, CallsRunOffTheCallersThread) {
  BlockingCalls calls("test_calls", 2, 8);
  std::promise<std::thread::id> ran_on;
  ASSERT_TRUE(calls.Submit([&] { ran_on.set_value(std::this_thread::get_id()); }));
  EXPECT_NE(ran_on.get_future().get(), std::this_thread::get_id());
}

TEST(BlockingCallsTest, BeyondTheQueueBoundACallIsRefusedAndNotRun) {
  BlockingCalls calls("test_calls", 1, 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  // The one thread is busy; two calls wait; the fourth is refused.
  ASSERT_TRUE(calls.Submit([&] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();
  std::atomic<int> ran{0};
  EXPECT_TRUE(calls.Submit([&] { ++ran; }));
  EXPECT_TRUE(calls.Submit([&] { ++ran; }));
  EXPECT_EQ(calls.queued(), 2u);
  EXPECT_FALSE(calls.Submit([&] { ran += 100; }));
  release.set_value();
  calls.Stop();
  EXPECT_EQ(ran.load(), 2);
}

TEST(BlockingCallsTest, StopRunsWhatIsQueuedAndLaterSubmitsAreRefused) {
  BlockingCalls calls("test_calls", 1, 100);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(calls.Submit([&] { ++ran; }));
  calls.Stop();
  EXPECT_EQ(ran.load(), 50);
  EXPECT_FALSE(calls.Submit([&] { ++ran; }));
  calls.Stop();  // idempotent
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace cit::dispatch
