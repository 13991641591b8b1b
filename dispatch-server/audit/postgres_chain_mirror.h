// The PostgreSQL store's hash chains for the audit ledger (issue 15): the heads a signed
// checkpoint lists (each vehicle's records, the plan log, the alert-event log, the identity log),
// and a copy of the rows one verification reads, taken from one snapshot into a private SQLite
// database, so that `audit verify` runs the one verifier (record_chain_check.h,
// plan_version_chain.h, alert_event_chain.h, identity_chain.h) on both backends and checks them
// alike. The copy includes every instance's checkpoints and the identity log
// (postgres_audit_log.h).
//
//   auto mirror = PostgresChainMirror::Open(conninfo);
//   absl::StatusOr<std::vector<cit::v1::ChainHead>> heads = (*mirror)->Heads();   // checkpoints
//   absl::Status s = (*mirror)->CopyInto(scratch_db, "CIT-0001", "run-7");      // verification
//
// A run's verification copies only the span of the vehicle's record chain that the walk reads
// (between the checkpoints around the run, found as VerifyRecordChainForWindow finds them), so
// its time follows the run; a whole vehicle's copies every record.
//
// Thread contract: thread-safe (one connection, serialised by pg::Session).
#ifndef CIT_DISPATCH_SERVER_AUDIT_POSTGRES_CHAIN_MIRROR_H_
#define CIT_DISPATCH_SERVER_AUDIT_POSTGRES_CHAIN_MIRROR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/store/postgres_db.h"
#include "dispatch-server/store/record_chain_check.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class PostgresChainMirror {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresChainMirror>> Open(const std::string& conninfo);

  // Every chain head of the store now, as CheckpointLog lists them: "records/<vehicle>" (in
  // vehicle order), "plans", "alerts" and "identities" (each once its table exists).
  absl::StatusOr<std::vector<cit::v1::ChainHead>> Heads();

  // Fills the tables of CreateMirrorTables in `db` from one snapshot: every checkpoint and the
  // identity log, `vehicle_id`'s records,
  // rejects, declared gaps and chain-head row and, with a `run_id`, the whole plan and
  // alert-event logs and that run's rows in runs and alerts. With a `window`, only the records
  // VerifyRecordChainForWindow reads for it, given the chain lengths the checkpoints list for
  // the vehicle. The chains copied are at least as long as the checkpoints copied say.
  absl::Status CopyInto(sqlite::Database& db, const std::string& vehicle_id,
                        const std::string& run_id, const RecordTimeWindow* window = nullptr);

  // The vehicle of a run according to the plan log; NOT_FOUND when the log never had it.
  absl::StatusOr<std::string> LoggedRunVehicle(const std::string& run_id);

 private:
  explicit PostgresChainMirror(std::unique_ptr<pg::Session> session)
      : session_(std::move(session)) {}

  std::unique_ptr<pg::Session> session_;
};

// The tables CopyInto fills, created in `db`'s main schema (they hide tables of the same names
// in attached databases).
absl::Status CreateMirrorTables(sqlite::Database& db);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_POSTGRES_CHAIN_MIRROR_H_
