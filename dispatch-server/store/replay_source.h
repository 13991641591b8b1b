// What a monitor state rebuild reads (monitor/state_rebuild.h): one vehicle's stored records in
// the order the ingest accepted them (chain order), streamed, with the time each was received.
//
//   source.ForEach("CIT-0001", from, [&](const StoredForReplay& r) { ... });
//
// Thread contract: one source per thread (each holds its own read connection).
#ifndef CIT_DISPATCH_STORE_REPLAY_SOURCE_H_
#define CIT_DISPATCH_STORE_REPLAY_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cit::dispatch {

struct StoredForReplay {
  uint64_t chain_index = 0;
  std::chrono::system_clock::time_point server_received_time;
  // The record's stored body (deterministic protobuf bytes), valid during the callback only.
  std::string_view body;
};

class ReplaySource {
 public:
  virtual ~ReplaySource() = default;
  // Calls `fn` for the vehicle's records in chain order, starting at the first whose event
  // time is >= `event_from` (records older than that which arrived later are not read).
  virtual absl::Status ForEach(std::string_view vehicle_id,
                               std::chrono::system_clock::time_point event_from,
                               const std::function<void(const StoredForReplay&)>& fn) = 0;
  // When the last record (chain order) received before `before` was received; none if none.
  virtual absl::StatusOr<std::optional<std::chrono::system_clock::time_point>> LastReceivedBefore(
      std::string_view vehicle_id, std::chrono::system_clock::time_point before) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_REPLAY_SOURCE_H_
