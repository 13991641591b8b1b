// What a monitor state rebuild reads (monitor/state_rebuild.h): one vehicle's stored records in
// the order the ingest accepted them (chain order), streamed, with the time each was received;
// and the vehicle's latest monitor snapshot, from which only the records after it are read.
//
//   source.ForEach("CIT-0001", from, [&](const StoredForReplay& r) { ... });
//   if (auto s = source.Snapshot("CIT-0001"); s.ok() && *s) {
//     auto at = source.Locate("CIT-0001", (*s)->last_seq);     // where the snapshot ends
//     source.ForEachAfter("CIT-0001", at->chain_index, fn);   // the tail
//   }
//
// Backends: SqliteReplayReader (store/sqlite_replay_reader.h), PostgresReplayReader
// (store/postgres_replay_reader.h).
//
// Thread contract: one source per thread (each holds its own read connection).
#ifndef CIT_DISPATCH_STORE_REPLAY_SOURCE_H_
#define CIT_DISPATCH_STORE_REPLAY_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cit::dispatch {

struct StoredForReplay {
  uint64_t chain_index = 0;
  std::chrono::system_clock::time_point server_received_time;
  // The record's stored body (deterministic protobuf bytes), valid during the callback only.
  std::string_view body;
};

// A vehicle's stored monitor snapshot (store/snapshot_store.h): the encoded state
// (monitor/state_snapshot.h) and, as columns, what says whether it is still usable.
struct StoredSnapshot {
  std::string vehicle_id;
  std::string run_id;
  uint32_t plan_version = 0;
  uint64_t last_seq = 0;  // last record the state evaluated
  int64_t taken_ns = 0;   // monitor clock, Unix ns
  std::string bytes;
};

// Where a stored record sits in its vehicle's chain.
struct ChainPosition {
  uint64_t chain_index = 0;
  std::chrono::system_clock::time_point server_received_time;
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
  // The vehicle's latest monitor snapshot; none if it has none.
  virtual absl::StatusOr<std::optional<StoredSnapshot>> Snapshot(std::string_view vehicle_id) = 0;
  // The stored record with this seq; none if it is not stored.
  virtual absl::StatusOr<std::optional<ChainPosition>> Locate(std::string_view vehicle_id,
                                                              uint64_t seq) = 0;
  // Calls `fn` for the vehicle's records after `chain_index`, in chain order.
  virtual absl::Status ForEachAfter(std::string_view vehicle_id, uint64_t chain_index,
                                    const std::function<void(const StoredForReplay&)>& fn) = 0;
  // Vehicles whose newest record (event time) is at or after `since`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> VehiclesHeardSince(
      std::chrono::system_clock::time_point since) = 0;
};

// Opens a source on the server's record store (SqliteReplayReader or PostgresReplayReader):
// each rebuild worker thread opens its own.
using ReplaySourceFactory = std::function<absl::StatusOr<std::unique_ptr<ReplaySource>>()>;

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_REPLAY_SOURCE_H_
