// Vehicle client certificates made in memory and signed by the demo fleet CA (ca.crt/ca.key
// from deploy/make-certs.sh), so a browser test can drive 500 vehicles without 500 openssl runs.
#ifndef CIT_TESTS_CONSOLE_FEEDER_CERTS_H_
#define CIT_TESTS_CONSOLE_FEEDER_CERTS_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <filesystem>
#include <string>

namespace cit::feeder {

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

class CertFactory {
 public:
  CertFactory() = default;
  CertFactory(const CertFactory&) = delete;
  CertFactory& operator=(const CertFactory&) = delete;
  ~CertFactory();

  // Reads <dir>/ca.crt and <dir>/ca.key; false when either is missing or unreadable.
  bool Load(const std::filesystem::path& dir);
  // A P-256 client certificate with CN and SAN DNS = id, valid for a week.
  KeyAndCert Make(const std::string& id);
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  X509* ca_ = nullptr;
  EVP_PKEY* ca_key_ = nullptr;
  std::string ca_pem_;
  long serial_ = 1000;
};

}  // namespace cit::feeder

#endif  // CIT_TESTS_CONSOLE_FEEDER_CERTS_H_
