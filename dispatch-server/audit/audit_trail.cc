#include "dispatch-server/audit/audit_trail.h"

namespace cit::dispatch {

absl::StatusOr<std::unique_ptr<AuditTrail>> AuditTrail::Open(
    const AuditOptions& options, const std::filesystem::path& database_path) {
  absl::StatusOr<CheckpointKey> key = LoadSigningKey(options, database_path);
  if (!key.ok()) return key.status();
  std::unique_ptr<AuditTrail> trail(new AuditTrail());
  absl::StatusOr<std::unique_ptr<CheckpointLog>> log = CheckpointLog::Open(database_path, *key);
  if (!log.ok()) return log.status();
  trail->log_ = *std::move(log);
  absl::StatusOr<std::unique_ptr<AuditLedger>> ledger = AuditLedger::Open(database_path, *key);
  if (!ledger.ok()) return ledger.status();
  trail->ledger_ = *std::move(ledger);
  trail->checkpointer_ =
      std::make_unique<Checkpointer>(trail->log_.get(), options.checkpoint_interval);
  return trail;
}

AuditTrail::~AuditTrail() { checkpointer_.reset(); }

}  // namespace cit::dispatch
