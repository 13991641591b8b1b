// Records, at start-up, how the operator token file changed since the server last read it: the
// identity log (store/identity_chain.h) gets one entry per change (operator added, removed, role
// changed, token rotated) with the server as actor, the token file's path and the SHA-256 of its
// bytes. The first start records the initial set; an unchanged file appends nothing. Each
// appended change is logged at INFO (event=identity_change).
//
// The token file is only read at start-up (there is no reload), so start-up is where the server
// learns of changes; a file edited and reverted between two start-ups leaves no trace.
//
//   absl::StatusOr<std::unique_ptr<IdentityLog>> log = IdentityLog::Open(db_path);
//   // after the start-up checkpoint, before the ports open:
//   absl::StatusOr<LoadedTokenFile> tokens = LoadTokenFileForLog(tokens_path);
//   absl::StatusOr<std::vector<cit::v1::IdentityEvent>> added = (*log)->Record(
//       *tokens, clock->Now(), [&](const cit::v1::IdentityEvent&) { return SignCheckpoint(); });
//
// On PostgreSQL (OpenPostgres) the log is the one every instance sharing the database appends
// to (postgres_audit_log.h): each entry is chosen and appended under the log's writer lock, after
// reading the whole log, so two instances starting at once do not record one change twice.
//
// If hashing fails, nothing is stored and the error is returned (the server does not start).
//
// Thread contract: Record from one thread (start-up); nothing else writes the identity log.
#ifndef CIT_DISPATCH_SERVER_AUDIT_IDENTITY_LOG_H_
#define CIT_DISPATCH_SERVER_AUDIT_IDENTITY_LOG_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/auth/identity_diff.h"
#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class PostgresAuditLog;

// The token file as read once: its parsed entries, path and the SHA-256 of the exact bytes.
struct LoadedTokenFile {
  TokenFile tokens;
  std::string path;    // "" when no token file is configured (the port admits nobody)
  std::string sha256;  // hex; of the empty string when none is configured
};

// Reads `path` once (at most 1 MiB; empty path: no tokens) and parses it.
absl::StatusOr<LoadedTokenFile> LoadTokenFileForLog(const std::filesystem::path& path);

// The operators in force after `events` (oldest first): name -> role and fingerprint.
std::map<std::string, RecordedIdentity> ReplayIdentities(
    const std::vector<cit::v1::IdentityEvent>& events);

class IdentityLog {
 public:
  static absl::StatusOr<std::unique_ptr<IdentityLog>> Open(const std::filesystem::path& path);
  static absl::StatusOr<std::unique_ptr<IdentityLog>> OpenPostgres(const std::string& conninfo);

  // Called after each committed entry; the server signs a checkpoint there, so that every
  // identity entry is anchored on its own and a recomputed chain is named at the exact entry.
  // An error stops Record and is returned.
  using AfterEach = std::function<absl::Status(const cit::v1::IdentityEvent&)>;

  // Compares `file` with the last state in the log and appends one entry per change, each in
  // its own transaction; returns what it appended (empty: no change). A failed append (hashing
  // failed) stores nothing of that entry and is returned.
  absl::StatusOr<std::vector<cit::v1::IdentityEvent>> Record(const LoadedTokenFile& file,
                                                             SysTime now,
                                                             const AfterEach& after_each = {});

 private:
  explicit IdentityLog(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  absl::StatusOr<std::vector<cit::v1::IdentityEvent>> RecordInPostgres(const LoadedTokenFile& file,
                                                                       SysTime now,
                                                                       const AfterEach& after_each);

  std::unique_ptr<sqlite::Database> db_;  // null on PostgreSQL
  std::shared_ptr<PostgresAuditLog> pg_;  // null on SQLite
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_IDENTITY_LOG_H_
