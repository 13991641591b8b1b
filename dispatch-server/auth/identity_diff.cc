#include "dispatch-server/auth/identity_diff.h"

#include <openssl/evp.h>

#include <string_view>

#include "absl/strings/escaping.h"

namespace cit::dispatch {

std::string TokenFingerprint(const Sha256Digest& token_hash) {
  constexpr std::string_view kDomain = "citwatch.token-fingerprint.v1";
  std::string input(kDomain);
  input.append(reinterpret_cast<const char*>(token_hash.data()), token_hash.size());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), out, &len, EVP_sha256(), nullptr) != 1 || len < 8) {
    return "";  // the caller refuses to record an empty fingerprint
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(out), 8));
}

std::vector<IdentityDiff> DiffIdentities(const std::map<std::string, RecordedIdentity>& recorded,
                                         const std::vector<TokenFile::Entry>& current) {
  std::map<std::string, RecordedIdentity> now;
  for (const TokenFile::Entry& e : current) {
    now[e.identity.name] =
        RecordedIdentity{std::string(RoleName(e.identity.role)), TokenFingerprint(e.hash)};
  }
  std::vector<IdentityDiff> out;
  using K = IdentityDiff::Kind;
  auto old_it = recorded.begin();
  auto new_it = now.begin();
  // Both maps are sorted by name: one merge pass.
  while (old_it != recorded.end() || new_it != now.end()) {
    if (new_it == now.end() || (old_it != recorded.end() && old_it->first < new_it->first)) {
      out.push_back(
          {K::kRemoved, old_it->first, old_it->second.role, "", old_it->second.fingerprint, ""});
      ++old_it;
    } else if (old_it == recorded.end() || new_it->first < old_it->first) {
      out.push_back(
          {K::kAdded, new_it->first, new_it->second.role, "", new_it->second.fingerprint, ""});
      ++new_it;
    } else {
      const RecordedIdentity& was = old_it->second;
      const RecordedIdentity& is = new_it->second;
      if (was.role != is.role) {
        out.push_back({K::kRoleChanged, new_it->first, is.role, was.role, was.fingerprint, ""});
      }
      if (was.fingerprint != is.fingerprint) {
        out.push_back(
            {K::kTokenRotated, new_it->first, is.role, "", is.fingerprint, was.fingerprint});
      }
      ++old_it;
      ++new_it;
    }
  }
  return out;
}

}  // namespace cit::dispatch
