// Operator bearer tokens: a file of token hashes, never the tokens themselves (DESIGN §9).
//
// File format (TOML), one table per operator:
//
//   [[token]]
//   name = "alice"            # recorded as the actor of every ack, resolve and plan change
//   role = "operator"         # operator | dispatcher | auditor | admin
//   sha256 = "9f86d08..."     # hex SHA-256 of the token; `dispatchctl token new` makes one
//
// Usage:
//   absl::StatusOr<TokenFile> tokens = TokenFile::Load("/etc/citwatch/operator-tokens.toml");
//   std::optional<OperatorIdentity> who = tokens->Authenticate(bearer_token);
//
// Thread contract: immutable after Load; Authenticate is safe from any thread.
#ifndef CIT_DISPATCH_SERVER_AUTH_TOKEN_FILE_H_
#define CIT_DISPATCH_SERVER_AUTH_TOKEN_FILE_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/auth/roles.h"
#include "dispatch-server/auth/token_hash.h"

namespace cit::dispatch {

class TokenFile {
 public:
  struct Entry {
    OperatorIdentity identity;
    Sha256Digest hash{};
  };

  static absl::StatusOr<TokenFile> Load(const std::filesystem::path& path);
  // Parses the TOML text; `origin` names it in error messages.
  static absl::StatusOr<TokenFile> Parse(std::string_view toml_text, std::string_view origin);

  // The identity whose hash matches SHA-256(token), if any. Compares against every entry in
  // constant time, so timing tells nothing about which entry (or how much of it) matched.
  std::optional<OperatorIdentity> Authenticate(std::string_view token) const;

  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUTH_TOKEN_FILE_H_
