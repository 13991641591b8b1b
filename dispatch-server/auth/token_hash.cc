#include "dispatch-server/auth/token_hash.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace cit::dispatch {

Sha256Digest TokenSha256(std::string_view token) {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string DigestHex(const Sha256Digest& digest) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string TokenHashHex(std::string_view token) { return DigestHex(TokenSha256(token)); }

std::optional<Sha256Digest> ParseTokenHashHex(std::string_view hex) {
  // absl::HexStringToBytes does not reject non-hex input, so check the digits first.
  if (hex.size() != 2 * Sha256Digest().size() ||
      !std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return std::nullopt;
  }
  const std::string bytes = absl::HexStringToBytes(absl::string_view(hex.data(), hex.size()));
  Sha256Digest out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

}  // namespace cit::dispatch
