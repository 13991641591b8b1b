// The plan log: every change of every run (create, update, dispatch, activate, abort, complete)
// as one append-only entry holding the whole run as of the change, its actor and comment, in one
// server-wide hash chain ("plans"):
//   h_0 = 32 zero bytes,
//   h_n = SHA-256(h_{n-1} || CanonicalEntryBytes("citwatch.plan.v1", n, 0, body_n))
// where body_n is the stored PlanEvent serialisation (index n included). UPDATE and DELETE on
// plan_events are refused by triggers. The mutable `runs` table stays as the current-state
// index the server loads; VerifyRunRows cross-checks it against the log.
//
//   PlanChainHead head = *LoadPlanChainHead(db);
//   sqlite::Transaction tx(db);
//   CIT_RETURN_IF_ERROR(AppendPlanEvent(db, head, event));   // head advances on success
//   tx.Commit();
//   absl::StatusOr<ChainReport> r = VerifyPlanChain(db, anchors);
//
// Thread contract: functions use `db` for the call only; the caller serialises writers.
#ifndef CIT_DISPATCH_STORE_PLAN_VERSION_CHAIN_H_
#define CIT_DISPATCH_STORE_PLAN_VERSION_CHAIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/store/chain_check.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

inline constexpr char kPlanChainName[] = "plans";

// The plan_events table and its append-only triggers (a migration of component "runs").
inline constexpr char kPlanEventsSchemaSql[] = R"sql(
CREATE TABLE plan_events (
  idx        INTEGER PRIMARY KEY CHECK (idx > 0),  -- position in the plan chain
  run_id     TEXT    NOT NULL,
  version    INTEGER NOT NULL,
  action     INTEGER NOT NULL,                     -- cit.v1.PlanAction
  actor      TEXT    NOT NULL,
  time_ns    INTEGER NOT NULL,
  body       BLOB    NOT NULL,                     -- PlanEvent, as hashed
  hash       BLOB    NOT NULL
);
CREATE INDEX plan_events_by_run ON plan_events (run_id, idx);
CREATE TRIGGER plan_events_append_only_update BEFORE UPDATE ON plan_events
  BEGIN SELECT RAISE(ABORT, 'plan_events are append-only'); END;
CREATE TRIGGER plan_events_append_only_delete BEFORE DELETE ON plan_events
  BEGIN SELECT RAISE(ABORT, 'plan_events are append-only'); END;
)sql";

struct PlanChainHead {
  uint64_t length = 0;
  std::string head;  // h_length (32 bytes)
};

absl::StatusOr<PlanChainHead> LoadPlanChainHead(sqlite::Database& db);

// A plan-log entry ready to store (any backend): `event` with its index set to head.length + 1,
// its stored body and h_index. Fails (nothing may be stored then) if hashing fails.
struct ChainedPlanEvent {
  cit::v1::PlanEvent event;
  std::string body;
  std::string hash;
};
absl::StatusOr<ChainedPlanEvent> ChainPlanEvent(const PlanChainHead& head,
                                                cit::v1::PlanEvent event);

// Appends `event` (index set here) inside the caller's transaction; advances `head` only when
// the row is written. Fails without writing if hashing fails.
absl::Status AppendPlanEvent(sqlite::Database& db, PlanChainHead& head, cit::v1::PlanEvent event);

// Entries of one run, oldest first.
absl::StatusOr<std::vector<cit::v1::PlanEvent>> ReadPlanHistory(sqlite::Database& db,
                                                                const std::string& run_id);

// Recomputes the whole plan chain, cross-checks the indexed columns against each body, and
// compares with `anchors` (the chain's heads in verified checkpoints).
absl::StatusOr<ChainReport> VerifyPlanChain(sqlite::Database& db, std::vector<ChainAnchor> anchors);

// Cross-checks the current `runs` rows of `run_id` (every version) against the plan log: each
// row must equal the run in the newest log entry of its version. Reported as chain
// "runs/<run_id>".
absl::StatusOr<ChainReport> VerifyRunRows(sqlite::Database& db, const std::string& run_id);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_PLAN_VERSION_CHAIN_H_
