// A fix record as the ingest hands it to a record store, for store tests: seq `seq` of
// `vehicle`, event time 1,800,000,000 + seq s, position moving north with the seq.
#ifndef CIT_TESTS_DISPATCH_STORED_FIX_H_
#define CIT_TESTS_DISPATCH_STORED_FIX_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "dispatch-server/store/committed_record.h"

namespace cit::dispatch::test_records {

inline CommittedRecord Fix(const std::string& vehicle, uint64_t seq) {
  CommittedRecord r;
  r.vehicle_id = vehicle;
  r.record.set_seq(seq);
  r.record.mutable_event_time()->set_seconds(1'800'000'000 + static_cast<int64_t>(seq));
  r.record.set_agent_monotonic_ns(static_cast<int64_t>(seq) * 1000);
  r.record.mutable_fix()->set_lat_deg(47.0 + 0.001 * static_cast<double>(seq));
  r.record.mutable_fix()->set_lon_deg(8.5);
  r.server_received_time =
      std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'100));
  return r;
}

}  // namespace cit::dispatch::test_records

#endif  // CIT_TESTS_DISPATCH_STORED_FIX_H_
