// The checkpoint log and the identity log in PostgreSQL (issue 15 §3): with several
// dispatch-server instances on one database, every instance appends its signed checkpoints to
// one shared chain and its token/role changes to one shared identity chain, so that `audit
// verify` on any instance sees the whole fleet's checkpoints and one identity log.
//
//   auto log = PostgresAuditLog::Open(conninfo);           // migrates component "checkpoints"
//   (*log)->AppendCheckpoint("dispatch-1", key.PublicPem(), [&](const auto* prev) {...});
//   (*log)->AppendIdentityChange([&](const auto& history) { return next_change; });
//
// One chain under a writer lock rather than a chain per instance: the lock orders every
// instance's checkpoints in one hash-linked sequence, so "instance B started before A shut
// down" is proven by the links, not inferred from clocks; the verifier can therefore tell an
// interval in which another instance was running (and vouched for what was stored) from one in
// which none was. A deleted checkpoint of any instance breaks the one chain, and one instance's
// newest signature proves, through the links, every checkpoint before it.
//
// Both tables are append-only (triggers; the server's role may only SELECT and INSERT); each
// checkpoint row names the instance and the signer's public key (PEM).
//
// Thread contract: thread-safe (one connection, serialised by pg::Session).
#ifndef CIT_DISPATCH_SERVER_AUDIT_POSTGRES_AUDIT_LOG_H_
#define CIT_DISPATCH_SERVER_AUDIT_POSTGRES_AUDIT_LOG_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

class PostgresAuditLog {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresAuditLog>> Open(const std::string& conninfo);

  // Builds the next checkpoint from the newest one (null: none yet) and appends it, all under
  // the checkpoint writer lock, so `build` reads heads committed after the previous checkpoint.
  // `build` returning a checkpoint with an empty body appends nothing (nothing changed).
  using BuildCheckpoint = std::function<absl::StatusOr<cit::v1::SignedCheckpoint>(
      const cit::v1::SignedCheckpoint* prev)>;
  absl::StatusOr<cit::v1::SignedCheckpoint> AppendCheckpoint(const std::string& instance,
                                                             const std::string& public_key_pem,
                                                             const BuildCheckpoint& build);

  // Under the identity writer lock: `next` sees the whole log and returns the entry to append
  // (no index needed), or nullopt when the log already says what it should. Returns the entry
  // appended (index set), or nullopt.
  using NextIdentity = std::function<absl::StatusOr<std::optional<cit::v1::IdentityEvent>>(
      const std::vector<cit::v1::IdentityEvent>& history)>;
  absl::StatusOr<std::optional<cit::v1::IdentityEvent>> AppendIdentityChange(
      const NextIdentity& next);

  // Checkpoints with id > after_id, oldest first, at most `limit`, each with its signer's PEM.
  absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> ReadCheckpoints(uint64_t after_id,
                                                                         size_t limit);
  // One checkpoint (0: the newest); NOT_FOUND when there is none.
  absl::StatusOr<cit::v1::SignedCheckpoint> ReadCheckpoint(uint64_t id);
  // Identity entries with index > after_index, oldest first, at most `limit`; `name`'s only
  // when not empty.
  absl::StatusOr<std::vector<cit::v1::IdentityEvent>> ReadIdentityEvents(uint64_t after_index,
                                                                         size_t limit,
                                                                         const std::string& name);

 private:
  explicit PostgresAuditLog(std::unique_ptr<pg::Session> session) : session_(std::move(session)) {}

  std::unique_ptr<pg::Session> session_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_POSTGRES_AUDIT_LOG_H_
