#include "dispatch-server/common/timer_wheel.h"

#include <algorithm>

namespace cit::dispatch {

TimerWheel::TimerWheel(SysTime start, Duration tick, size_t slots)
    : tick_ns_(std::max<int64_t>(1, tick.count())),
      slots_(std::max<size_t>(1, slots)),
      current_tick_(TickOf(start.time_since_epoch().count())) {}

TimerWheel::TimerId TimerWheel::Schedule(SysTime deadline, uint64_t owner, uint32_t tag) {
  const int64_t ns = deadline.time_since_epoch().count();
  // A deadline in the past goes into the current slot and fires on the next Advance().
  const int64_t tick = std::max(TickOf(ns), current_tick_);
  const TimerId id = next_id_++;
  slots_[static_cast<size_t>(tick) % slots_.size()].push_back(Entry{ns, id, owner, tag});
  ++pending_;
  return id;
}

void TimerWheel::Collect(SysTime now) {
  const int64_t now_ns = now.time_since_epoch().count();
  const int64_t now_tick = TickOf(now_ns);
  if (now_tick < current_tick_) return;
  // Sweep from current_tick_ through now_tick; a jump longer than the wheel visits each slot
  // once (entries carry absolute deadlines, so later rounds stay put).
  const int64_t span =
      std::min<int64_t>(now_tick - current_tick_ + 1, static_cast<int64_t>(slots_.size()));
  for (int64_t i = 0; i < span; ++i) {
    auto& slot = slots_[static_cast<size_t>(current_tick_ + i) % slots_.size()];
    size_t keep = 0;
    for (size_t j = 0; j < slot.size(); ++j) {
      if (slot[j].deadline_ns <= now_ns) {
        due_.push_back(Expired{slot[j].id, slot[j].owner, slot[j].tag,
                               SysTime(Duration(slot[j].deadline_ns))});
      } else {
        slot[keep++] = slot[j];
      }
    }
    slot.resize(keep);
  }
  // The slot of now_tick may still hold entries due later within this tick: sweep it again
  // next time.
  current_tick_ = now_tick;
  pending_ -= due_.size();
  std::sort(due_.begin(), due_.end(), [](const Expired& a, const Expired& b) {
    return a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id;
  });
}

}  // namespace cit::dispatch
