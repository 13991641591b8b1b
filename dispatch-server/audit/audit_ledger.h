// What `audit verify` checks, read straight from the server's database file: a run's vehicle
// records, the plan log, the alert-event log and the identity log (each recomputed from h_0), the
// current `runs` and `alerts` rows cross-checked against the logs, and all of them against every
// signed checkpoint (signatures checked with the server's public key, the checkpoints' own chain of
// body hashes, and a checkpoint the auditor kept outside the server if one is given). Also
// serves the checkpoints themselves (GetCheckpoint, ListCheckpoints).
//
//   absl::StatusOr<std::unique_ptr<AuditLedger>> ledger = AuditLedger::Open(db_path, public_key);
//   absl::StatusOr<cit::v1::VerifyChainResponse> v = (*ledger)->Verify("CIT-0001", "run-7");
//   if (v.ok() && !v->intact()) std::cout << v->problem();   // names the first broken entry
//
// What verification proves, and what an auditor must keep outside the server for it to mean
// anything, is in docs/protocol.md ("What verification proves").
//
// On PostgreSQL (issue 15) every chain, the checkpoints of every instance sharing the database
// and the identity log are read from there: each verification copies the rows it needs from one
// snapshot into a private in-memory SQLite database and runs the same checks
// (postgres_chain_mirror.h, postgres_audit_log.h). Checkpoints signed by another instance are
// checked with that instance's public key as configured ([audit] instance_keys), never with the
// key stored beside them (whoever can write the table could store any key). Entries
// that appeared while the server was stopped are reported only when no instance was running
// then (between the shutdown checkpoint that left none running and the next checkpoint).
//
// Thread contract: thread-safe; calls are serialised on one read connection.
#ifndef CIT_DISPATCH_SERVER_AUDIT_AUDIT_LEDGER_H_
#define CIT_DISPATCH_SERVER_AUDIT_AUDIT_LEDGER_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/store/record_chain_check.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class PostgresAuditLog;
class PostgresChainMirror;

class AuditLedger {
 public:
  // SQLite backend: every chain, the checkpoints and the identity log in the file at `path`.
  // `public_key`: the server's checkpoint key (its public half is enough).
  static absl::StatusOr<std::unique_ptr<AuditLedger>> Open(const std::filesystem::path& path,
                                                           CheckpointKey public_key);

  // PostgreSQL backend: the chains in `store_chains`, the checkpoints and the identity log in
  // `logs` (the same database); no file.
  // `instance_keys`: the other instances' public keys ([audit] instance_keys).
  static absl::StatusOr<std::unique_ptr<AuditLedger>> OpenPostgres(
      CheckpointKey public_key, const std::vector<CheckpointKey>& instance_keys,
      std::shared_ptr<PostgresChainMirror> store_chains, std::shared_ptr<PostgresAuditLog> logs);

  // Verifies `vehicle_id`'s records and, with a non-empty `run_id`, the run's plan log and
  // alert events. `outside`: a checkpoint the auditor kept (may be null). NOT_FOUND when the
  // vehicle has neither records nor a checkpointed chain (never existed).
  // Every verification also checks the identity log (token/role changes).
  // `run_window`: the event times of the run's records; then only the part of the vehicle's
  // chain between the signed checkpoints around them is walked (VerifyRecordChainForWindow),
  // so a run is verified in time proportional to the run. Null: the whole chain.
  absl::StatusOr<cit::v1::VerifyChainResponse> Verify(const std::string& vehicle_id,
                                                      const std::string& run_id,
                                                      const cit::v1::SignedCheckpoint* outside,
                                                      const RecordTimeWindow* run_window = nullptr);
  // Only the identity log and the checkpoints (`audit verify --identities`).
  absl::StatusOr<cit::v1::VerifyChainResponse> VerifyIdentities(
      const cit::v1::SignedCheckpoint* outside);
  // The identity log's entries (who had which role when), oldest first.
  absl::StatusOr<cit::v1::ListIdentityEventsResponse> ListIdentityEvents(
      const cit::v1::ListIdentityEventsRequest& req);

  // The vehicle of a run according to the plan log (NOT_FOUND if the log never had the run):
  // a run whose current rows were deleted is still verified.
  absl::StatusOr<std::string> LoggedRunVehicle(const std::string& run_id);

  absl::StatusOr<cit::v1::SignedCheckpoint> GetCheckpoint(uint64_t id);
  absl::StatusOr<cit::v1::ListCheckpointsResponse> ListCheckpoints(uint64_t after_id,
                                                                   uint32_t limit);

 private:
  // [first, last]: the checkpoints proven by the newest one this key signed (empty: first > last).
  // `signers`: the other instances' keys by key id (empty on SQLite).
  std::pair<size_t, size_t> LinkedToTheNewest(
      const std::vector<cit::v1::SignedCheckpoint>& checkpoints,
      const std::map<std::string, CheckpointKey>& signers) const;
  // Reads every chain and checkpoint through `db`, inside the caller's read transaction.
  absl::StatusOr<cit::v1::VerifyChainResponse> VerifyLocked(
      sqlite::Database& db, const std::string& vehicle_id, const std::string& run_id,
      const cit::v1::SignedCheckpoint* outside, bool identities_only,
      const RecordTimeWindow* run_window = nullptr);
  // A private database holding the chains `vehicle_id` and `run_id` need, the checkpoints and
  // the identity log, copied from PostgreSQL.
  absl::Status VerifyFromCopy(const std::string& vehicle_id, const std::string& run_id,
                              const RecordTimeWindow* run_window,
                              const std::function<absl::Status(sqlite::Database&)>& verify);

  AuditLedger(std::unique_ptr<sqlite::Database> db, CheckpointKey key,
              std::shared_ptr<PostgresChainMirror> store_chains)
      : db_(std::move(db)), key_(std::move(key)), store_chains_(std::move(store_chains)) {}

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;  // null on PostgreSQL
  CheckpointKey key_;
  std::shared_ptr<PostgresChainMirror> store_chains_;
  std::shared_ptr<PostgresAuditLog> logs_;
  std::map<std::string, CheckpointKey> instance_keys_;  // by key id
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_AUDIT_LEDGER_H_
