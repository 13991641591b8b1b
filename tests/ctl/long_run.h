// A long run of the scenario's vehicle for export tests and benchmarks: a fix every second,
// to and fro along the scenario route (tests/ctl/scenario.h) at 1 m/s, and a door opened at
// second 30 and closed at second 90 of every hour.
//
//   std::vector<cit::v1::Record> r = LongRunRecords(start, 24 * 3600);   // 86,400 fixes + 48
//
// Thread contract: pure functions.
#ifndef CIT_TESTS_CTL_LONG_RUN_H_
#define CIT_TESTS_CTL_LONG_RUN_H_

#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "tests/ctl/ctl_fixtures.h"
#include "tests/ctl/scenario.h"

namespace cit::test {

struct LongRunCounts {
  std::size_t fixes = 0;
  std::size_t doors = 0;
};

inline LongRunCounts LongRunCountsFor(int seconds) {
  LongRunCounts c;
  c.fixes = static_cast<std::size_t>(seconds);
  for (int t = 0; t < seconds; ++t) c.doors += (t % 3600 == 30 || t % 3600 == 90) ? 1 : 0;
  return c;
}

inline std::vector<cit::v1::Record> LongRunRecords(const google::protobuf::Timestamp& start,
                                                   int seconds) {
  namespace sc = scenario;
  std::vector<cit::v1::Record> out;
  out.reserve(static_cast<std::size_t>(seconds) + 64);
  uint64_t seq = 0;
  for (int t = 0; t < seconds; ++t) {
    const int phase = t % 4000;
    const double x_m = phase < 2000 ? phase * 0.5 : (4000 - phase) * 0.5;
    out.push_back(FixRecord(sc::kVehicle, ++seq, Plus(start, t), sc::kLat,
                            sc::kLon0 + x_m * sc::LonPerM(), 1.0));
    if (t % 3600 == 30 || t % 3600 == 90) {
      out.push_back(DoorRecord(sc::kVehicle, ++seq, Plus(start, t + 0.5), t % 3600 == 30));
    }
  }
  return out;
}

}  // namespace cit::test

#endif  // CIT_TESTS_CTL_LONG_RUN_H_
