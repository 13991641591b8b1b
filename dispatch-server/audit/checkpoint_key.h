// The Ed25519 key that signs checkpoints of every chain head (docs/protocol.md, "Checkpoints"),
// through OpenSSL's EVP API. The server holds the private key; auditors keep a copy of the public
// key outside the server and verify with it (`dispatchctl audit verify --public-key FILE`).
// Shared by dispatch-server and dispatchctl (its own target, cit::checkpoint_key).
//
//   absl::StatusOr<CheckpointKey> key = CheckpointKey::LoadPrivatePem(pem_text);
//   absl::StatusOr<std::string> sig = key->Sign(body);          // 64 bytes
//   absl::StatusOr<CheckpointKey> pub = CheckpointKey::LoadPublicPem(key->PublicPem());
//   bool ok = pub->Verify(body, *sig);
//
// Thread contract: a const CheckpointKey may be used from several threads (each call makes its
// own EVP context).
#ifndef CIT_DISPATCH_SERVER_AUDIT_CHECKPOINT_KEY_H_
#define CIT_DISPATCH_SERVER_AUDIT_CHECKPOINT_KEY_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace cit::dispatch {

class CheckpointKey {
 public:
  // A new random key.
  static absl::StatusOr<CheckpointKey> Generate();
  // PEM "PRIVATE KEY" (PKCS#8) holding an Ed25519 key.
  static absl::StatusOr<CheckpointKey> LoadPrivatePem(std::string_view pem);
  // PEM "PUBLIC KEY" (SubjectPublicKeyInfo) holding an Ed25519 key.
  static absl::StatusOr<CheckpointKey> LoadPublicPem(std::string_view pem);

  bool has_private() const { return has_private_; }
  // INTERNAL when OpenSSL fails; FAILED_PRECONDITION for a public-only key.
  absl::StatusOr<std::string> Sign(std::string_view message) const;
  bool Verify(std::string_view message, std::string_view signature) const;

  absl::StatusOr<std::string> PrivatePem() const;
  std::string PublicPem() const;
  // Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo: names the key in checkpoints.
  std::string KeyId() const;

  // Writes the private key (mode 0600, created exclusively) and the public key beside it.
  absl::Status WritePrivate(const std::filesystem::path& path) const;
  absl::Status WritePublic(const std::filesystem::path& path) const;

 private:
  struct Free {
    void operator()(EVP_PKEY* k) const;
  };
  CheckpointKey(std::shared_ptr<EVP_PKEY> key, bool has_private);
  std::shared_ptr<EVP_PKEY> key_;
  bool has_private_ = false;
  std::string key_id_;
};

// Test seam: while set, Sign fails as if OpenSSL had (process-wide).
void FailCheckpointSigningForTesting(bool fail);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_CHECKPOINT_KEY_H_
