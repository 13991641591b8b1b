// Where the monitor's periodic snapshots are kept (StoredSnapshot, store/replay_source.h): the
// latest encoded monitor state of each vehicle, so that a restart re-evaluates only the records
// received after it (issue 12 §1). A cache, not the record: one row per vehicle, replaced in
// place, neither chained nor append-only.
//
//   std::unique_ptr<SnapshotStore> store = ...;   // SqliteSnapshotStore or PostgresSnapshotStore
//   store->Put(snapshots);                        // snapshot writer thread
//   auto s = store->Get("truck-7");
//
// Thread contract: one store per thread (each holds its own connection).
#ifndef CIT_DISPATCH_STORE_SNAPSHOT_STORE_H_
#define CIT_DISPATCH_STORE_SNAPSHOT_STORE_H_

#include <optional>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dispatch-server/store/replay_source.h"

namespace cit::dispatch {

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // Replaces each vehicle's snapshot, all in one transaction.
  virtual absl::Status Put(std::span<const StoredSnapshot> snapshots) = 0;
  virtual absl::StatusOr<std::optional<StoredSnapshot>> Get(std::string_view vehicle_id) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_SNAPSHOT_STORE_H_
