// Persistence interface of the run registry: every version of every run (DESIGN §5: a
// dispatched plan is frozen; a change makes a new version and the old one stays for audit), and
// the append-only, hash-chained plan log: every change with the whole run as of the change, who
// made it and why. SqliteRunStore (dispatch-server/store/sqlite_run_store.h) implements it.
//
// Several instances on one database (issue 15 §3): the plan log is the order of every change.
// A store that instances share (PostgresRunStore) overrides LoadWithPosition, SaveAt and
// EventsAfter, so that each instance's RunManager holds exactly the runs as of one log position,
// writes only on top of the newest entry, and reads the entries other instances appended. A
// store with one writer (SQLite) keeps the defaults: positions count from the load and no other
// writer appends.
//
// Thread contract: implementations are thread-safe.
#ifndef CIT_DISPATCH_SERVER_PLANS_RUN_STORE_H_
#define CIT_DISPATCH_SERVER_PLANS_RUN_STORE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

inline constexpr char kPlanLogMovedPayload[] = "citwatch/plan_log_moved";

// SaveAt's refusal when another instance appended to the plan log since `expected`: nothing was
// stored; read the new entries (EventsAfter) and try again.
inline absl::Status PlanLogMovedError(uint64_t expected, uint64_t head) {
  absl::Status s = absl::AbortedError(
      absl::StrCat("the plan log moved on (this instance is at entry ", expected, ", the log at ",
                   head, "): another instance changed runs; nothing was stored"));
  s.SetPayload(kPlanLogMovedPayload, absl::Cord("1"));
  return s;
}

inline bool IsPlanLogMoved(const absl::Status& s) {
  return s.GetPayload(kPlanLogMovedPayload).has_value();
}

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

  // The newest version of every run and the plan log position they reflect (the index of the
  // last entry), read in one snapshot.
  struct Loaded {
    std::vector<cit::v1::Run> runs;
    uint64_t log_position = 0;
  };
  virtual absl::StatusOr<Loaded> LoadWithPosition() {
    absl::StatusOr<std::vector<cit::v1::Run>> runs = LoadLatest();
    if (!runs.ok()) return runs.status();
    return Loaded{*std::move(runs), 0};
  }
  // Save, only if the plan log's last entry is still at `expected_position`; returns the
  // position of the entry appended. PlanLogMovedError (nothing stored) when it is not.
  virtual absl::StatusOr<uint64_t> SaveAt(const cit::v1::Run& run, const cit::v1::PlanEvent& change,
                                          uint64_t expected_position) {
    if (absl::Status s = Save(run, change); !s.ok()) return s;
    return expected_position + 1;
  }
  // Plan-log entries after `position`, oldest first, at most `limit`; each entry's index is its
  // position. Empty when no other writer appends.
  virtual absl::StatusOr<std::vector<cit::v1::PlanEvent>> EventsAfter(uint64_t position,
                                                                      std::size_t limit) {
    (void)position;
    (void)limit;
    return std::vector<cit::v1::PlanEvent>{};
  }
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_RUN_STORE_H_
