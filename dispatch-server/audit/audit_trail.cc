#include "dispatch-server/audit/audit_trail.h"

#include "dispatch-server/audit/postgres_audit_log.h"
#include "dispatch-server/audit/postgres_chain_mirror.h"

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<AuditTrail>> AuditTrail::Open(
    const AuditOptions& options, const std::filesystem::path& database_path,
    const std::string& postgres_connection, const std::string& instance) {
  absl::StatusOr<CheckpointKey> key = LoadSigningKey(options, database_path);
  if (!key.ok()) return key.status();
  std::unique_ptr<AuditTrail> trail(new AuditTrail());
  if (postgres_connection.empty()) {
    absl::StatusOr<std::unique_ptr<CheckpointLog>> log = CheckpointLog::Open(database_path, *key);
    if (!log.ok()) return log.status();
    trail->log_ = *std::move(log);
    absl::StatusOr<std::unique_ptr<AuditLedger>> ledger = AuditLedger::Open(database_path, *key);
    if (!ledger.ok()) return ledger.status();
    trail->ledger_ = *std::move(ledger);
  } else {
    absl::StatusOr<std::vector<CheckpointKey>> others = LoadInstanceKeys(options);
    if (!others.ok()) return others.status();
    // Separate connections: a long verification does not hold up the checkpoint thread.
    absl::StatusOr<std::unique_ptr<PostgresChainMirror>> heads =
        PostgresChainMirror::Open(postgres_connection);
    if (!heads.ok()) return heads.status();
    absl::StatusOr<std::unique_ptr<PostgresAuditLog>> writer =
        PostgresAuditLog::Open(postgres_connection);
    if (!writer.ok()) return writer.status();
    absl::StatusOr<std::unique_ptr<CheckpointLog>> log = CheckpointLog::OpenPostgres(
        *std::move(writer), *key, instance,
        [heads = std::shared_ptr<PostgresChainMirror>(*std::move(heads))] {
          return heads->Heads();
        });
    if (!log.ok()) return log.status();
    trail->log_ = *std::move(log);
    absl::StatusOr<std::unique_ptr<PostgresChainMirror>> chains =
        PostgresChainMirror::Open(postgres_connection);
    if (!chains.ok()) return chains.status();
    absl::StatusOr<std::unique_ptr<PostgresAuditLog>> reader =
        PostgresAuditLog::Open(postgres_connection);
    if (!reader.ok()) return reader.status();
    absl::StatusOr<std::unique_ptr<AuditLedger>> ledger =
        AuditLedger::OpenPostgres(*key, *others, *std::move(chains), *std::move(reader));
    if (!ledger.ok()) return ledger.status();
    trail->ledger_ = *std::move(ledger);
  }
  trail->checkpointer_ =
      std::make_unique<Checkpointer>(trail->log_.get(), options.checkpoint_interval);
  return trail;
}

AuditTrail::~AuditTrail() { checkpointer_.reset(); }

}  // namespace cit::dispatch
