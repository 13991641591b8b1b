// What changed between the operator identities the server recorded last (the identity log,
// store/identity_chain.h) and the token file it reads now: one change per operator and aspect
// (added, removed, role changed, token rotated), in name order. Pure: no I/O.
//
//   std::map<std::string, RecordedIdentity> last = ...;         // replayed from the log
//   std::vector<IdentityDiff> changes = DiffIdentities(last, tokens.entries());
//
// A renamed operator (same token, new name) shows as one removal and one addition with the same
// fingerprint; a role change together with a new token is two changes.
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_AUTH_IDENTITY_DIFF_H_
#define CIT_DISPATCH_SERVER_AUTH_IDENTITY_DIFF_H_

#include <map>
#include <string>
#include <vector>

#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/auth/token_hash.h"

namespace cit::dispatch {

// 16 hex digits of SHA-256("citwatch.token-fingerprint.v1" || hash): tells two tokens apart in
// the identity log without storing the hash (which, with a weak token, could be brute-forced).
std::string TokenFingerprint(const Sha256Digest& token_hash);

// One operator as last recorded.
struct RecordedIdentity {
  std::string role;         // RoleName()
  std::string fingerprint;  // TokenFingerprint()
};

struct IdentityDiff {
  enum class Kind { kAdded, kRemoved, kRoleChanged, kTokenRotated };
  Kind kind;
  std::string name;
  std::string role;                  // after (removed: the role it had)
  std::string previous_role;         // kRoleChanged
  std::string fingerprint;           // after (removed: the one it had)
  std::string previous_fingerprint;  // kTokenRotated
};

std::vector<IdentityDiff> DiffIdentities(const std::map<std::string, RecordedIdentity>& recorded,
                                         const std::vector<TokenFile::Entry>& current);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUTH_IDENTITY_DIFF_H_
