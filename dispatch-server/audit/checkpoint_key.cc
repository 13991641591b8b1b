#include "dispatch-server/audit/checkpoint_key.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

std::atomic<bool> fail_signing{false};

std::string OpenSslError(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return absl::StrCat(std::string(what), ": ", buf);
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

void FailCheckpointSigningForTesting(bool fail) { fail_signing.store(fail); }

void CheckpointKey::Free::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

CheckpointKey::CheckpointKey(std::shared_ptr<EVP_PKEY> key, bool has_private)
    : key_(std::move(key)), has_private_(has_private) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key_.get(), &der);
  if (n > 0) {
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(der, static_cast<size_t>(n), md, &len, EVP_sha256(), nullptr) == 1) {
      key_id_ = absl::BytesToHexString(
          absl::string_view(reinterpret_cast<const char*>(md), static_cast<size_t>(len)));
    }
  }
  OPENSSL_free(der);
}

absl::StatusOr<CheckpointKey> CheckpointKey::Generate() {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return absl::InternalError(OpenSslError("generating an Ed25519 key"));
  }
  return CheckpointKey(std::shared_ptr<EVP_PKEY>(raw, Free()), true);
}

absl::StatusOr<CheckpointKey> CheckpointKey::LoadPrivatePem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (raw == nullptr) {
    return absl::InvalidArgumentError(OpenSslError("not a PEM private key"));
  }
  std::shared_ptr<EVP_PKEY> key(raw, Free());
  if (EVP_PKEY_id(raw) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        "not an Ed25519 key (make one with: openssl genpkey "
        "-algorithm ed25519)");
  }
  return CheckpointKey(std::move(key), true);
}

absl::StatusOr<CheckpointKey> CheckpointKey::LoadPublicPem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (raw == nullptr) {
    return absl::InvalidArgumentError(OpenSslError("not a PEM public key"));
  }
  std::shared_ptr<EVP_PKEY> key(raw, Free());
  if (EVP_PKEY_id(raw) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("not an Ed25519 public key");
  }
  return CheckpointKey(std::move(key), false);
}

absl::StatusOr<std::string> CheckpointKey::Sign(std::string_view message) const {
  if (!has_private_) return absl::FailedPreconditionError("public key only: cannot sign");
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (fail_signing.load() || !ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError(OpenSslError("signing a checkpoint"));
  }
  sig.resize(len);
  return sig;
}

bool CheckpointKey::Verify(std::string_view message, std::string_view signature) const {
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  ERR_clear_error();
  return ok;
}

absl::StatusOr<std::string> CheckpointKey::PrivatePem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(OpenSslError("writing the private key"));
  }
  return BioText(bio.get());
}

std::string CheckpointKey::PublicPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) return "";
  return BioText(bio.get());
}

std::string CheckpointKey::KeyId() const { return key_id_; }

absl::Status CheckpointKey::WritePrivate(const std::filesystem::path& path) const {
  absl::StatusOr<std::string> pem = PrivatePem();
  if (!pem.ok()) return pem.status();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path.string(), ": ", std::strerror(errno)));
  }
  const bool ok = ::write(fd, pem->data(), pem->size()) == static_cast<ssize_t>(pem->size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::Status CheckpointKey::WritePublic(const std::filesystem::path& path) const {
  std::ofstream out(path, std::ios::trunc);
  out << PublicPem();
  if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace cit::dispatch
