// Rate-limited refusal logging: a burst per reason and interval, then one summary line.
#include "dispatch-server/common/refusal_log.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/support/log_capture.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

TEST(RefusalLogTest, BurstPerReasonThenOneSummaryPerInterval) {
  test::LogCapture capture;
  Steady::time_point now{};
  {
    // No timer (flush_period 0): this case pins the summary written by the next refusal.
    RefusalLog log("test", {.burst = 3, .interval = seconds(10), .flush_period = {}},
                   [&] { return now; });
    int admitted = 0;
    for (int i = 0; i < 1000; ++i) admitted += log.Admit("unknown_token") ? 1 : 0;
    for (int i = 0; i < 5; ++i) admitted += log.Admit("missing_token") ? 1 : 0;
    EXPECT_EQ(admitted, 3 + 3) << "each reason has its own burst";
    EXPECT_EQ(capture.CountContaining("refusals_suppressed"), 0u) << "the interval is not over";
    now += seconds(11);
    EXPECT_TRUE(log.Admit("unknown_token")) << "a new interval starts with a new burst";
    ASSERT_EQ(capture.CountContaining("refusals_suppressed"), 1u);
    EXPECT_EQ(capture.CountContaining("reason=unknown_token count=997 interval_s=11"), 1u)
        << capture.Lines().back();
    EXPECT_EQ(capture.CountContaining("suppressed 997 refusals of reason unknown_token in the "
                                      "last 11 s"),
              1u);
  }  // the destructor reports what is still suppressed (missing_token: 2)
  EXPECT_EQ(capture.CountContaining("reason=missing_token count=2"), 1u);
  EXPECT_EQ(capture.CountContaining("refusals_suppressed"), 2u);
}

// The summary of a burst must not wait for a next refusal that may never come: FlushExpired
// writes it once the interval is over, and the log's timer calls it on its own.
TEST(RefusalLogTest, SummaryIsWrittenWhenTheIntervalEndsWithoutAnotherRefusal) {
  test::LogCapture capture;
  Steady::time_point now{};
  RefusalLog log("test", {.burst = 2, .interval = seconds(10), .flush_period = {}},
                 [&] { return now; });
  for (int i = 0; i < 7; ++i) log.Admit("unknown_token");
  log.FlushExpired();
  EXPECT_EQ(capture.CountContaining("refusals_suppressed"), 0u) << "the interval is not over";
  now += seconds(10);
  log.FlushExpired();
  EXPECT_EQ(capture.CountContaining("reason=unknown_token count=5 interval_s=10"), 1u);
  log.FlushExpired();
  EXPECT_EQ(capture.CountContaining("refusals_suppressed"), 1u) << "written once";
}

TEST(RefusalLogTest, TimerWritesTheSummaryWithoutAnotherRefusal) {
  test::LogCapture capture;
  std::atomic<int64_t> now_s{0};
  RefusalLog log(
      "test", {.burst = 1, .interval = seconds(10), .flush_period = std::chrono::milliseconds(5)},
      [&] { return Steady::time_point(seconds(now_s.load())); });
  for (int i = 0; i < 4; ++i) log.Admit("missing_token");
  now_s = 10;  // the interval is over; nobody calls Admit or Flush
  EXPECT_TRUE(
      test::WaitFor([&] { return capture.CountContaining("reason=missing_token count=3") == 1; }));
}

}  // namespace
}  // namespace cit::dispatch
