// One vehicle's records for the record-scan tests of both backends (sqlite_record_scan_test,
// postgres_record_scan_test): fixes at chosen event seconds, and a random history of runs in
// order, backlogs from the past, duplicate times and jumps, with random queries over it.
//
//   scan_workload::History h = scan_workload::AppendRandomHistory(rng, append);
//   RecordPageQuery q = scan_workload::RandomQuery(rng, h);
#ifndef CIT_TESTS_DISPATCH_SCAN_WORKLOAD_H_
#define CIT_TESTS_DISPATCH_SCAN_WORKLOAD_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "dispatch-server/store/store.h"
#include "tests/dispatch/stored_fix.h"

namespace cit::dispatch::scan_workload {

using Clock = std::chrono::system_clock;
inline constexpr char kVehicle[] = "CIT-7";
inline constexpr int64_t kBase = 1'800'000'000;

inline CommittedRecord FixAt(uint64_t seq, int64_t event_second) {
  CommittedRecord r = test_records::Fix(kVehicle, seq);
  r.record.mutable_event_time()->set_seconds(event_second);
  return r;
}

inline Clock::time_point At(int64_t second) {
  return Clock::time_point(std::chrono::seconds(second));
}

// Every record of the vehicle, no limit.
inline RecordPageQuery Whole() {
  RecordPageQuery q;
  q.vehicle_id = kVehicle;
  q.limit = SIZE_MAX;
  return q;
}

struct History {
  uint64_t last_seq = 0;
  int64_t clock = kBase;  // the latest live second
};

// 40 bursts of 1-400 records: most live (in order, 0-2 s apart: two records at one second
// too), one in four a backlog from up to 3,000 s back.
inline History AppendRandomHistory(
    std::mt19937_64& rng, const std::function<void(std::vector<CommittedRecord>)>& append) {
  History h;
  for (int burst = 0; burst < 40; ++burst) {
    std::vector<CommittedRecord> batch;
    const int n = static_cast<int>(rng() % 400) + 1;
    const bool backlog = rng() % 4 == 0;
    int64_t t = backlog ? h.clock - static_cast<int64_t>(rng() % 3000) : h.clock;
    for (int i = 0; i < n; ++i) {
      batch.push_back(FixAt(++h.last_seq, t));
      t += static_cast<int64_t>(rng() % 3);  // 0: two records at one second
    }
    if (!backlog) h.clock = t + static_cast<int64_t>(rng() % 50);
    append(std::move(batch));
  }
  return h;
}

// A window anywhere around the history, sometimes with a limit, a chain limit or a cursor.
inline RecordPageQuery RandomQuery(std::mt19937_64& rng, const History& h) {
  RecordPageQuery q = Whole();
  const int64_t span = h.clock - kBase + 3000;
  const int64_t a = kBase - 3000 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
  const int64_t b = kBase - 3000 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
  q.from = At(std::min(a, b));
  q.to = At(std::max(a, b) + 1);
  if (rng() % 2 == 0) q.limit = rng() % 5000;
  if (rng() % 3 == 0) q.max_chain_index = rng() % (h.last_seq + 1);
  if (rng() % 3 == 0) {
    q.after = RecordKey{(std::min(a, b) + 200) * 1'000'000'000, rng() % h.last_seq};
  }
  return q;
}

}  // namespace cit::dispatch::scan_workload

#endif  // CIT_TESTS_DISPATCH_SCAN_WORKLOAD_H_
