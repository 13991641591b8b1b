// Persistence interface of the run registry: every version of every run (DESIGN §5: a
// dispatched plan is frozen; a change makes a new version and the old one stays for audit), and
// the append-only, hash-chained plan log: every change with the whole run as of the change, who
// made it and why. SqliteRunStore (dispatch-server/store/sqlite_run_store.h) implements it.
//
// Thread contract: implementations are thread-safe.
#ifndef CIT_DISPATCH_SERVER_PLANS_RUN_STORE_H_
#define CIT_DISPATCH_SERVER_PLANS_RUN_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

class RunStore {
 public:
  virtual ~RunStore() = default;
  // In one transaction: inserts a new (run_id, version) row, or replaces the state of an
  // existing version (state transitions keep the version: only plan changes make a new one),
  // and appends `change` (its `run` set to `run`) to the plan log. Nothing is stored if the
  // chain hash cannot be computed.
  virtual absl::Status Save(const cit::v1::Run& run, const cit::v1::PlanEvent& change) = 0;
  // The run's plan log entries, oldest first (empty for an unknown run).
  virtual absl::StatusOr<std::vector<cit::v1::PlanEvent>> History(const std::string& run_id) = 0;
  // The newest version of every run.
  virtual absl::StatusOr<std::vector<cit::v1::Run>> LoadLatest() = 0;
  // Every stored version of one run, ascending.
  virtual absl::StatusOr<std::vector<cit::v1::Run>> Versions(const std::string& run_id) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_RUN_STORE_H_
