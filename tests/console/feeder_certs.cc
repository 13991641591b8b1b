#include "tests/console/feeder_certs.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>
#include <utility>

namespace cit::feeder {
namespace {

std::string Pem(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

}  // namespace

CertFactory::~CertFactory() {
  X509_free(ca_);
  EVP_PKEY_free(ca_key_);
}

bool CertFactory::Load(const std::filesystem::path& dir) {
  std::ifstream in(dir / "ca.crt");
  std::stringstream ss;
  ss << in.rdbuf();
  ca_pem_ = ss.str();
  BIO* c = BIO_new_file((dir / "ca.crt").c_str(), "r");
  BIO* k = BIO_new_file((dir / "ca.key").c_str(), "r");
  if (c != nullptr) ca_ = PEM_read_bio_X509(c, nullptr, nullptr, nullptr);
  if (k != nullptr) ca_key_ = PEM_read_bio_PrivateKey(k, nullptr, nullptr, nullptr);
  BIO_free(c);
  BIO_free(k);
  return ca_ != nullptr && ca_key_ != nullptr;
}

KeyAndCert CertFactory::Make(const std::string& id) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7L * 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(id.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(ca_));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_, x, nullptr, nullptr, 0);
  const std::string san = "DNS:" + id;
  for (auto [nid, value] :
       {std::pair{NID_subject_alt_name, san.c_str()}, std::pair{NID_ext_key_usage, "clientAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, ca_key_, EVP_sha256());
  KeyAndCert out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = Pem(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  out.cert_pem = Pem(b);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace cit::feeder
