#include "dispatch-server/audit/audit_trail.h"

#include "dispatch-server/audit/postgres_chain_mirror.h"

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<AuditTrail>> AuditTrail::Open(
    const AuditOptions& options, const std::filesystem::path& database_path,
    const std::string& postgres_connection) {
  absl::StatusOr<CheckpointKey> key = LoadSigningKey(options, database_path);
  if (!key.ok()) return key.status();
  std::unique_ptr<AuditTrail> trail(new AuditTrail());
  // Two connections: a long verification does not hold up the checkpoint thread.
  ChainHeadSource store_heads;
  std::shared_ptr<PostgresChainMirror> store_chains;
  if (!postgres_connection.empty()) {
    absl::StatusOr<std::unique_ptr<PostgresChainMirror>> heads =
        PostgresChainMirror::Open(postgres_connection);
    if (!heads.ok()) return heads.status();
    store_heads = [heads = std::shared_ptr<PostgresChainMirror>(*std::move(heads))] {
      return heads->Heads();
    };
    absl::StatusOr<std::unique_ptr<PostgresChainMirror>> chains =
        PostgresChainMirror::Open(postgres_connection);
    if (!chains.ok()) return chains.status();
    store_chains = *std::move(chains);
  }
  absl::StatusOr<std::unique_ptr<CheckpointLog>> log =
      CheckpointLog::Open(database_path, *key, std::move(store_heads));
  if (!log.ok()) return log.status();
  trail->log_ = *std::move(log);
  absl::StatusOr<std::unique_ptr<AuditLedger>> ledger =
      AuditLedger::Open(database_path, *key, std::move(store_chains));
  if (!ledger.ok()) return ledger.status();
  trail->ledger_ = *std::move(ledger);
  trail->checkpointer_ =
      std::make_unique<Checkpointer>(trail->log_.get(), options.checkpoint_interval);
  return trail;
}

AuditTrail::~AuditTrail() { checkpointer_.reset(); }

}  // namespace cit::dispatch
