#include "dispatch-server/common/timer_wheel.h"

#include <gtest/gtest.h>

#include <vector>

namespace cit::dispatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TimerWheelTest, FiresOnlyDueTimersInDeadlineOrder) {
  const SysTime t0 = FromUnixSeconds(1'700'000'000);
  TimerWheel wheel(t0);
  wheel.Schedule(t0 + seconds(5), 1, 0);
  wheel.Schedule(t0 + seconds(2), 2, 0);
  wheel.Schedule(t0 + seconds(60), 3, 0);
  std::vector<uint64_t> fired;
  wheel.Advance(t0 + seconds(1), [&](const TimerWheel::Expired& e) { fired.push_back(e.owner); });
  EXPECT_TRUE(fired.empty());
  wheel.Advance(t0 + seconds(5), [&](const TimerWheel::Expired& e) { fired.push_back(e.owner); });
  EXPECT_EQ(fired, (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(wheel.pending(), 1u);
}

TEST(TimerWheelTest, JumpLongerThanTheWheelFiresEverythingDue) {
  const SysTime t0 = FromUnixSeconds(1'700'000'000);
  TimerWheel wheel(t0, milliseconds(100), 16);  // wheel spans 1.6 s
  wheel.Schedule(t0 + seconds(1), 1, 7);
  wheel.Schedule(t0 + seconds(30), 2, 8);
  wheel.Schedule(t0 + seconds(3600), 3, 9);
  std::vector<uint32_t> tags;
  wheel.Advance(t0 + seconds(31), [&](const TimerWheel::Expired& e) { tags.push_back(e.tag); });
  EXPECT_EQ(tags, (std::vector<uint32_t>{7, 8}));
  tags.clear();
  wheel.Advance(t0 + seconds(3599), [&](const TimerWheel::Expired& e) { tags.push_back(e.tag); });
  EXPECT_TRUE(tags.empty());
  wheel.Advance(t0 + seconds(3600), [&](const TimerWheel::Expired& e) { tags.push_back(e.tag); });
  EXPECT_EQ(tags, (std::vector<uint32_t>{9}));
}

TEST(TimerWheelTest, PastDeadlineFiresOnNextAdvance) {
  const SysTime t0 = FromUnixSeconds(1'700'000'000);
  TimerWheel wheel(t0);
  wheel.Advance(t0 + seconds(10), [](const TimerWheel::Expired&) {});
  const TimerWheel::TimerId id = wheel.Schedule(t0, 4, 1);
  std::vector<TimerWheel::TimerId> fired;
  wheel.Advance(t0 + seconds(10), [&](const TimerWheel::Expired& e) { fired.push_back(e.id); });
  EXPECT_EQ(fired, (std::vector<TimerWheel::TimerId>{id}));
}

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), FromUnixSeconds(100));
  clock.Advance(seconds(61));
  EXPECT_EQ(clock.Now(), FromUnixSeconds(161));
  EXPECT_EQ(FromProto(ToProto(FromUnixSeconds(-1.5))), FromUnixSeconds(-1.5));
}

}  // namespace
}  // namespace cit::dispatch
