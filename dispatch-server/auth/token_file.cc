#include "dispatch-server/auth/token_file.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <toml++/toml.h>

#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "geo/input_limits.h"

namespace cit::dispatch {
namespace {

std::optional<Sha256Digest> HexDecode(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256Digest out{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string HexEncode(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint8_t b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string TokenHashHex(std::string_view token) { return HexEncode(Sha256(token)); }

absl::StatusOr<TokenFile> TokenFile::Load(const std::filesystem::path& path) {
  // A token file is a few kB: refuse devices, FIFOs and anything over 1 MiB.
  absl::StatusOr<std::string> text = geo::ReadFileBounded(path, 1u << 20);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("token file: ", text.status().message()));
  }
  return Parse(*text, path.string());
}

absl::StatusOr<TokenFile> TokenFile::Parse(std::string_view toml_text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << origin << ": " << e.description() << " at line " << e.source().begin.line;
    return absl::InvalidArgumentError(msg.str());
  }
  TokenFile file;
  std::set<std::string> names;
  const toml::array* tokens = root["token"].as_array();
  if (tokens == nullptr) return file;  // An empty file admits nobody.
  for (std::size_t i = 0; i < tokens->size(); ++i) {
    const std::string where = std::string(origin) + ": token[" + std::to_string(i) + "]";
    const toml::table* t = (*tokens)[i].as_table();
    if (t == nullptr) return absl::InvalidArgumentError(where + ": not a table");
    auto name = (*t)["name"].value<std::string>();
    auto role = (*t)["role"].value<std::string>();
    auto hash = (*t)["sha256"].value<std::string>();
    if (!name || name->empty()) return absl::InvalidArgumentError(where + ".name: missing");
    if (!role) return absl::InvalidArgumentError(where + ".role: missing");
    if (!hash) return absl::InvalidArgumentError(where + ".sha256: missing");
    std::optional<Role> r = ParseRole(*role);
    if (!r) {
      return absl::InvalidArgumentError(where + ".role: '" + *role +
                                        "' is not operator, dispatcher, auditor or admin");
    }
    std::optional<Sha256Digest> digest = HexDecode(*hash);
    if (!digest) return absl::InvalidArgumentError(where + ".sha256: not 64 hex digits");
    if (!names.insert(*name).second) {
      return absl::InvalidArgumentError(where + ".name: '" + *name + "' appears twice");
    }
    file.entries_.push_back(Entry{OperatorIdentity{*name, *r}, *digest});
  }
  return file;
}

std::optional<OperatorIdentity> TokenFile::Authenticate(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  const Sha256Digest presented = Sha256(token);
  const Entry* match = nullptr;
  for (const Entry& e : entries_) {
    // CRYPTO_memcmp takes the same time whatever the contents; scan every entry regardless.
    if (CRYPTO_memcmp(e.hash.data(), presented.data(), presented.size()) == 0) match = &e;
  }
  if (match == nullptr) return std::nullopt;
  return match->identity;
}

}  // namespace cit::dispatch
