// A hashed timer wheel for the monitor's deadlines (late arrival, missed stop, comms lost,
// dwell, GNSS lost). O(1) schedule; Advance() touches only the slots the clock moved over.
//
//   TimerWheel wheel(clock.Now());
//   TimerWheel::TimerId id = wheel.Schedule(deadline, /*owner=*/vehicle_index, /*tag=*/kComms);
//   wheel.Advance(clock.Now(), [&](const TimerWheel::Expired& e) { ... });
//
// There is no Cancel(): owners remember the id they expect per (owner, tag) and ignore stale
// expiries, which keeps rescheduling (every record moves the comms deadline) allocation-free
// after warm-up.
//
// Thread contract: single-threaded (the monitor thread owns it).
#ifndef CIT_DISPATCH_SERVER_COMMON_TIMER_WHEEL_H_
#define CIT_DISPATCH_SERVER_COMMON_TIMER_WHEEL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dispatch-server/common/clock.h"

namespace cit::dispatch {

class TimerWheel {
 public:
  using TimerId = uint64_t;
  struct Expired {
    TimerId id;
    uint64_t owner;
    uint32_t tag;
    SysTime deadline;
  };

  // `tick` is the resolution: a timer fires at the first Advance() at or after its deadline.
  explicit TimerWheel(SysTime start, Duration tick = std::chrono::milliseconds(100),
                      size_t slots = 4096);

  TimerId Schedule(SysTime deadline, uint64_t owner, uint32_t tag);

  // Fires every timer with deadline <= now, in deadline order.
  template <typename Fn>
  void Advance(SysTime now, Fn&& fn) {
    Collect(now);
    for (const Expired& e : due_) fn(e);
    due_.clear();
  }

  size_t pending() const { return pending_; }

 private:
  struct Entry {
    int64_t deadline_ns;
    TimerId id;
    uint64_t owner;
    uint32_t tag;
  };
  void Collect(SysTime now);
  int64_t TickOf(int64_t ns) const { return ns / tick_ns_; }

  int64_t tick_ns_;
  std::vector<std::vector<Entry>> slots_;
  int64_t current_tick_;  // every slot for ticks < current_tick_ has been swept
  TimerId next_id_ = 1;
  size_t pending_ = 0;
  std::vector<Expired> due_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_COMMON_TIMER_WHEEL_H_
