// Vehicle client certificates made in memory and signed by the demo fleet CA (ca.crt/ca.key from
// deploy/make-certs.sh), so a load generator can drive thousands of vehicles without thousands of
// openssl runs. Shared by bench/fleet_load.cc and bench/alert_latency_bench.cc.
//
//   VehicleCertFactory factory;
//   if (!factory.Load("/tmp/fleet")) ...;            // ca.crt + ca.key
//   VehicleKeyAndCert kc = factory.Make("CIT-0001", 100001);
#ifndef CIT_BENCH_VEHICLE_CERTS_H_
#define CIT_BENCH_VEHICLE_CERTS_H_

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace cit::bench {

inline std::string ReadWholeFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct VehicleKeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

class VehicleCertFactory {
 public:
  VehicleCertFactory() = default;
  VehicleCertFactory(const VehicleCertFactory&) = delete;
  VehicleCertFactory& operator=(const VehicleCertFactory&) = delete;
  ~VehicleCertFactory() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
  }

  // Reads <dir>/ca.crt and <dir>/ca.key; false when either is missing or unreadable.
  bool Load(const std::filesystem::path& dir) {
    BIO* c = BIO_new_file((dir / "ca.crt").c_str(), "r");
    BIO* k = BIO_new_file((dir / "ca.key").c_str(), "r");
    if (c != nullptr) ca_ = PEM_read_bio_X509(c, nullptr, nullptr, nullptr);
    if (k != nullptr) ca_key_ = PEM_read_bio_PrivateKey(k, nullptr, nullptr, nullptr);
    BIO_free(c);
    BIO_free(k);
    return ca_ != nullptr && ca_key_ != nullptr;
  }

  // A P-256 client certificate with CN and SAN DNS = id (what the server takes as the vehicle
  // id), extended key usage clientAuth, valid for a week.
  VehicleKeyAndCert Make(const std::string& id, long serial) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 7L * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(id.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca_));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca_, x, nullptr, nullptr, 0);
    const std::string san = "DNS:" + id;
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                              std::pair{NID_ext_key_usage, "clientAuth"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(x, ca_key_, EVP_sha256());
    VehicleKeyAndCert out;
    out.key_pem = ToPem([&](BIO* b) {
      return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    });
    out.cert_pem = ToPem([&](BIO* b) { return PEM_write_bio_X509(b, x); });
    X509_free(x);
    EVP_PKEY_free(key);
    return out;
  }

 private:
  template <typename Write>
  static std::string ToPem(Write write) {
    BIO* b = BIO_new(BIO_s_mem());
    write(b);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(b);
    return out;
  }

  X509* ca_ = nullptr;
  EVP_PKEY* ca_key_ = nullptr;
};

}  // namespace cit::bench

#endif  // CIT_BENCH_VEHICLE_CERTS_H_
