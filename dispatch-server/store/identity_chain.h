// The identity log: every change of the operator token file the server learned of (operator
// added, removed, role changed, token rotated) as one append-only entry, in one server-wide hash
// chain ("identities"):
//   h_0 = 32 zero bytes,
//   h_n = SHA-256(h_{n-1} || CanonicalEntryBytes("citwatch.identity.v1", n, 0, body_n))
// where body_n is the stored IdentityEvent serialisation (index n included). Every other column
// is cross-checked against the hashed body by VerifyIdentityChain. UPDATE and DELETE are refused
// by triggers. Entries hold a fingerprint of each token hash, never a token or a token hash.
//
//   IdentityChainHead head = *LoadIdentityChainHead(db);
//   sqlite::Transaction tx(db);
//   CIT_RETURN_IF_ERROR(AppendIdentityEvent(db, head, event));   // head advances on success
//   tx.Commit();
//   absl::StatusOr<ChainReport> r = VerifyIdentityChain(db, anchors);
//
// Thread contract: functions use `db` for the call only; the caller serialises writers.
#ifndef CIT_DISPATCH_STORE_IDENTITY_CHAIN_H_
#define CIT_DISPATCH_STORE_IDENTITY_CHAIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/store/chain_check.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

inline constexpr char kIdentityChainName[] = "identities";

// Migrations of component "identities" (applied by the server at start-up and by readers).
absl::Status MigrateIdentityLog(sqlite::Database& db);

struct IdentityChainHead {
  uint64_t length = 0;
  std::string head;  // h_length (32 bytes)
};

absl::StatusOr<IdentityChainHead> LoadIdentityChainHead(sqlite::Database& db);

// One entry as the chain stores it: `event` with its index set, the hashed body and h_index.
struct IdentityEntry {
  cit::v1::IdentityEvent event;
  std::string body;
  std::string hash;
};
// The entry `event` becomes at the end of the chain at `head` (any store: SQLite or PostgreSQL).
// Fails if hashing fails (no placeholder hash).
absl::StatusOr<IdentityEntry> NextIdentityEntry(const IdentityChainHead& head,
                                                cit::v1::IdentityEvent event);

// Appends `event` (index set here) inside the caller's transaction; advances `head` only when
// the row is written. Fails without writing if hashing fails (no placeholder hash).
absl::Status AppendIdentityEvent(sqlite::Database& db, IdentityChainHead& head,
                                 cit::v1::IdentityEvent event);

// Entries with index > after_index, oldest first, at most `limit`; only `name`'s when not empty.
absl::StatusOr<std::vector<cit::v1::IdentityEvent>> ReadIdentityEvents(sqlite::Database& db,
                                                                       uint64_t after_index,
                                                                       size_t limit,
                                                                       const std::string& name);

// A name for people: "identity event 3 (olga ROLE_CHANGED operator -> auditor)".
std::string IdentityEventName(const cit::v1::IdentityEvent& e);

// Recomputes the whole identity chain, cross-checks every column against each body, and
// compares with `anchors` (the chain's heads in verified checkpoints).
absl::StatusOr<ChainReport> VerifyIdentityChain(sqlite::Database& db,
                                                std::vector<ChainAnchor> anchors);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_IDENTITY_CHAIN_H_
