// The server's audit trail assembled in one call: the checkpoint signing key ([audit] config),
// the checkpoint log and its interval/shutdown writer, and the ledger that `audit verify` and
// the checkpoint RPCs read.
//
//   absl::StatusOr<AuditOptions> opts = AuditOptionsFromConfig(cfg.raw, cfg.source);
//   absl::StatusOr<std::unique_ptr<AuditTrail>> trail = AuditTrail::Open(*opts, db_path);
//   AuditService audit(source, (*trail)->ledger());
//   CIT_RETURN_IF_ERROR((*trail)->Start());   // "startup" checkpoint: before the ports open
//   ...                                         // SIGTERM: stop ingest and monitor, then
//   (*trail)->Stop();                           // "shutdown" checkpoint
//
// Thread contract: Open/Start/Stop from one thread; the ledger is thread-safe.
#ifndef CIT_DISPATCH_SERVER_AUDIT_AUDIT_TRAIL_H_
#define CIT_DISPATCH_SERVER_AUDIT_AUDIT_TRAIL_H_

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dispatch-server/audit/audit_config.h"
#include "dispatch-server/audit/audit_ledger.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/audit/checkpointer.h"

namespace cit::dispatch {

class AuditTrail {
 public:
  // Loads (or generates) the key; FAILED_PRECONDITION/NOT_FOUND/INVALID_ARGUMENT naming
  // audit.signing_key when a configured key is unusable. With `postgres_connection` (store.backend
  // = "postgresql") every chain is read from that database and the checkpoints are written there,
  // into the one checkpoint chain of every instance sharing it, each naming `instance`
  // ([store] instance; postgres_audit_log.h). Otherwise all is in the file at `database_path`.
  // The generated key (none configured) is kept beside `database_path` either way.
  static absl::StatusOr<std::unique_ptr<AuditTrail>> Open(
      const AuditOptions& options, const std::filesystem::path& database_path,
      const std::string& postgres_connection = "", const std::string& instance = "");
  ~AuditTrail();
  AuditTrail(const AuditTrail&) = delete;
  AuditTrail& operator=(const AuditTrail&) = delete;
  AuditTrail(AuditTrail&&) = delete;
  AuditTrail& operator=(AuditTrail&&) = delete;

  absl::Status Start() { return checkpointer_->Start(); }
  absl::Status Stop() { return checkpointer_->Stop(); }

  std::shared_ptr<AuditLedger> ledger() const { return ledger_; }
  CheckpointLog& log() { return *log_; }

 private:
  AuditTrail() = default;
  std::unique_ptr<CheckpointLog> log_;
  std::shared_ptr<AuditLedger> ledger_;
  std::unique_ptr<Checkpointer> checkpointer_;  // uses log_
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_AUDIT_TRAIL_H_
