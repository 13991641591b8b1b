// Server clock for deadline rules (late arrival, missed stop, comms lost, dwell, GNSS lost).
//
// Rules run in event time, but deadlines must fire when nothing arrives, so the monitor asks a
// Clock what time it is. Production uses SystemClock; tests inject a FakeClock and move it by
// hand, so deadline tests never sleep.
//
//   cit::dispatch::FakeClock clock(cit::dispatch::FromUnixSeconds(1'700'000'000));
//   clock.Advance(std::chrono::seconds(61));   // the monitor's next Tick() sees the new time
//
// Thread contract: Now() is safe from any thread; FakeClock::Set/Advance too (atomic).
#ifndef CIT_DISPATCH_SERVER_COMMON_CLOCK_H_
#define CIT_DISPATCH_SERVER_COMMON_CLOCK_H_

#include <google/protobuf/timestamp.pb.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace cit::dispatch {

// UTC wall time with nanosecond resolution (std::chrono::system_clock is UTC/Unix time).
using SysTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;
using Duration = std::chrono::nanoseconds;

inline SysTime FromUnixSeconds(double seconds) {
  return SysTime(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)));
}
inline double ToUnixSeconds(SysTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}
inline double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline Duration FromSeconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

inline SysTime FromProto(const google::protobuf::Timestamp& ts) {
  return SysTime(std::chrono::seconds(ts.seconds()) + std::chrono::nanoseconds(ts.nanos()));
}
inline google::protobuf::Timestamp ToProto(SysTime t) {
  google::protobuf::Timestamp ts;
  const int64_t ns = t.time_since_epoch().count();
  int64_t s = ns / 1'000'000'000;
  int64_t rem = ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --s;
  }
  ts.set_seconds(s);
  ts.set_nanos(static_cast<int32_t>(rem));
  return ts;
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SysTime Now() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  SysTime Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

// A clock that only moves when told to (tests).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SysTime start) : now_ns_(start.time_since_epoch().count()) {}
  SysTime Now() const override { return SysTime(Duration(now_ns_.load())); }
  void Set(SysTime t) { now_ns_.store(t.time_since_epoch().count()); }
  void Advance(Duration d) { now_ns_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_COMMON_CLOCK_H_
