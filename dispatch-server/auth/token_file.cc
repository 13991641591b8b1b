#include "dispatch-server/auth/token_file.h"

#include <openssl/crypto.h>
#include <toml++/toml.h>

#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "geo/input_limits.h"

namespace cit::dispatch {

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
    std::optional<Sha256Digest> digest = ParseTokenHashHex(*hash);
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
  const Sha256Digest presented = TokenSha256(token);
  const Entry* match = nullptr;
  for (const Entry& e : entries_) {
    // CRYPTO_memcmp takes the same time whatever the contents; scan every entry regardless.
    if (CRYPTO_memcmp(e.hash.data(), presented.data(), presented.size()) == 0) match = &e;
  }
  if (match == nullptr) return std::nullopt;
  return match->identity;
}

}  // namespace cit::dispatch
