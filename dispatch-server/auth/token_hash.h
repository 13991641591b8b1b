// SHA-256 of an operator bearer token, the one hash both sides must agree on: `dispatchctl token
// new/hash` prints it for the token file, dispatch-server compares presented tokens against it.
// A separate library target (cit::token_hash) so dispatchctl can link it without the server.
//
//   std::string line = cit::dispatch::TokenHashHex("cit_3f...");   // 64 lower-case hex digits
//   std::optional<Sha256Digest> d = cit::dispatch::ParseTokenHashHex(line);
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_AUTH_TOKEN_HASH_H_
#define CIT_DISPATCH_AUTH_TOKEN_HASH_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cit::dispatch {

using Sha256Digest = std::array<std::uint8_t, 32>;

// SHA-256 of the token's bytes.
Sha256Digest TokenSha256(std::string_view token);
// Lower-case hex of TokenSha256(token): what the token file stores.
std::string TokenHashHex(std::string_view token);
// Lower-case hex of any digest.
std::string DigestHex(const Sha256Digest& digest);
// Parses 64 hex digits (either case); nullopt for anything else.
std::optional<Sha256Digest> ParseTokenHashHex(std::string_view hex);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_AUTH_TOKEN_HASH_H_
