// The checkpoint log: signed checkpoints of every chain head (records per vehicle, plan log,
// alert-event log, identity log), appended to their own append-only table in the server's database
// (component "checkpoints"; UPDATE/DELETE refused by triggers).
//
//   absl::StatusOr<std::unique_ptr<CheckpointLog>> log = CheckpointLog::Open(db_path, key);
//   (*log)->Append("startup", now);    // every chain head
//   (*log)->Append("interval", now);   // heads changed since this process's last checkpoint
//   absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> all = ReadCheckpoints(db, 0, 100);
//
// A checkpoint's body is the deterministic serialisation of cit.v1.Checkpoint; the signature
// (Ed25519) is over exactly those bytes; each body carries the SHA-256 of the previous body. The
// heads are read and the row written in one IMMEDIATE transaction, so a checkpoint never lists
// a head that is not committed (heads from PostgreSQL are read committed, in that transaction).
//
// On PostgreSQL (OpenPostgres) the checkpoints go to the database every instance shares
// (postgres_audit_log.h): one chain for all instances, each checkpoint naming its instance, its
// heads read under the chain's writer lock. The server's file then holds none.
//
// Thread contract: Append is serialised internally; the Read* functions use the caller's
// connection.
#ifndef CIT_DISPATCH_SERVER_AUDIT_CHECKPOINT_LOG_H_
#define CIT_DISPATCH_SERVER_AUDIT_CHECKPOINT_LOG_H_

#include <chrono>
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
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

// Chain heads kept outside the server's file (the PostgreSQL store's: PostgresChainMirror),
// read for each checkpoint.
using ChainHeadSource = std::function<absl::StatusOr<std::vector<cit::v1::ChainHead>>()>;

class PostgresAuditLog;

class CheckpointLog {
 public:
  // `store_heads`: the heads of the chains not in the file at `path` (null: all are in it).
  static absl::StatusOr<std::unique_ptr<CheckpointLog>> Open(const std::filesystem::path& path,
                                                             CheckpointKey key,
                                                             ChainHeadSource store_heads = nullptr);

  // The shared PostgreSQL chain: `heads` are every chain's heads (the store's, the identity
  // log's); `instance` names this instance in each checkpoint.
  static absl::StatusOr<std::unique_ptr<CheckpointLog>> OpenPostgres(
      std::shared_ptr<PostgresAuditLog> log, CheckpointKey key, std::string instance,
      ChainHeadSource heads);

  // Signs and appends a checkpoint of the heads that changed since this process's previous one
  // (all heads the first time). With `always` false, nothing is written when no head changed.
  // Fails, writing nothing, if hashing or signing fails.
  absl::StatusOr<cit::v1::SignedCheckpoint> Append(const std::string& reason,
                                                   std::chrono::system_clock::time_point now,
                                                   bool always = true);

  const CheckpointKey& key() const { return key_; }

  // Migrations of component "checkpoints" (applied by Open; also by readers of a copied file).
  static absl::Status Migrate(sqlite::Database& db);

 private:
  CheckpointLog(std::unique_ptr<sqlite::Database> db, CheckpointKey key,
                ChainHeadSource store_heads)
      : db_(std::move(db)), key_(std::move(key)), store_heads_(std::move(store_heads)) {}

  // The signed checkpoint after `prev` (null: the first) listing those of `heads` that changed
  // since this process's previous one; an empty body when none did and `always` is false.
  absl::StatusOr<cit::v1::SignedCheckpoint> Build(std::vector<cit::v1::ChainHead> heads,
                                                  const cit::v1::SignedCheckpoint* prev,
                                                  const std::string& reason,
                                                  std::chrono::system_clock::time_point now,
                                                  bool always);
  // After the checkpoint is committed: what this process has signed.
  void Remember(const cit::v1::Checkpoint& cp);
  absl::StatusOr<cit::v1::SignedCheckpoint> AppendToPostgres(
      const std::string& reason, std::chrono::system_clock::time_point now, bool always);

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;  // null on PostgreSQL
  std::shared_ptr<PostgresAuditLog> pg_;  // null on SQLite
  std::string instance_;
  CheckpointKey key_;
  ChainHeadSource store_heads_;
  // What this process signed last, per chain: length and head.
  std::map<std::string, std::pair<uint64_t, std::string>> signed_;
  bool first_ = true;
};

// Checkpoints with id > after_id, oldest first, at most `limit`.
absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> ReadCheckpoints(sqlite::Database& db,
                                                                       uint64_t after_id,
                                                                       size_t limit);
// One checkpoint (0: the newest); NOT_FOUND when there is none.
absl::StatusOr<cit::v1::SignedCheckpoint> ReadCheckpoint(sqlite::Database& db, uint64_t id);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_CHECKPOINT_LOG_H_
