#include "dispatch-server/store/record_hash.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <atomic>
#include <initializer_list>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace cit::dispatch {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::atomic<bool> fail_for_testing{false};

// Big-endian integers into a fixed buffer (the canonical header without a std::string).
char* PutBigEndian(char* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) *out++ = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// SHA-256 fetched once. EVP_sha256() is OpenSSL 3's legacy handle: every EVP_DigestInit_ex with
// it looks the algorithm up in the provider again, which costs more than hashing a small record.
const EVP_MD* Sha256() {
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return fetched != nullptr ? fetched : EVP_sha256();
}

struct CtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_MD_CTX, CtxDeleter>;

// One context per thread, reused: EVP_MD_CTX_new per record would dominate small records.
CtxPtr& ThreadContext() {
  thread_local CtxPtr ctx(EVP_MD_CTX_new());
  return ctx;
}

// SHA-256 of the concatenated parts into `digest`; false when OpenSSL fails (allocation), after
// which the thread gets a fresh context for the next attempt.
bool Sha256Of(std::initializer_list<std::string_view> parts, unsigned char* digest) {
  CtxPtr& ctx = ThreadContext();
  bool ok = !fail_for_testing.load(std::memory_order_relaxed) && ctx != nullptr &&
            EVP_DigestInit_ex(ctx.get(), Sha256(), nullptr) == 1;
  for (std::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  }
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), digest, &len) == 1 && len == kChainHashBytes;
  if (!ok) ctx.reset(EVP_MD_CTX_new());
  return ok;
}

}  // namespace

void FailChainStepsForTesting(bool fail) { fail_for_testing.store(fail); }

std::string SerializeDeterministic(const google::protobuf::Message& message) {
  std::string body;
  {
    google::protobuf::io::StringOutputStream raw(&body);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return body;
}

std::string SerializeRecordBody(const cit::v1::Record& record) {
  return SerializeDeterministic(record);
}

std::string CanonicalRecordBytes(std::string_view vehicle_id, uint64_t seq,
                                 int64_t server_received_unix_ns, std::string_view body) {
  static constexpr std::string_view kDomain = "citwatch.record.v1";
  std::string out;
  out.reserve(kDomain.size() + 4 + vehicle_id.size() + 8 + 8 + 4 + body.size());
  out.append(kDomain);
  PutU32(out, static_cast<uint32_t>(vehicle_id.size()));
  out.append(vehicle_id);
  PutU64(out, seq);
  PutU64(out, static_cast<uint64_t>(server_received_unix_ns));
  PutU32(out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

std::string CanonicalEntryBytes(std::string_view domain, uint64_t index, uint64_t key,
                                std::string_view body) {
  std::string out;
  out.reserve(domain.size() + 8 + 8 + 4 + body.size());
  out.append(domain);
  PutU64(out, index);
  PutU64(out, key);
  PutU32(out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

absl::StatusOr<std::string> ChainStep(std::string_view prev_hash, std::string_view canonical) {
  std::string out(kChainHashBytes, '\0');
  if (!Sha256Of({prev_hash, canonical}, reinterpret_cast<unsigned char*>(out.data()))) {
    // Only on allocation failure inside OpenSSL. Never a placeholder: the append fails.
    return absl::InternalError("SHA-256 of a chain entry failed in OpenSSL");
  }
  return out;
}

absl::Status RecordChainStep(std::string_view prev_hash, std::string_view vehicle_id, uint64_t seq,
                             int64_t server_received_unix_ns, std::string_view body,
                             std::string* out) {
  static constexpr std::string_view kDomain = "citwatch.record.v1";
  char length_of_vehicle[4];
  PutBigEndian(length_of_vehicle, vehicle_id.size(), 4);
  char middle[8 + 8 + 4];  // seq, server time, length of body
  char* p = PutBigEndian(middle, seq, 8);
  p = PutBigEndian(p, static_cast<uint64_t>(server_received_unix_ns), 8);
  PutBigEndian(p, body.size(), 4);
  unsigned char digest[kChainHashBytes];
  if (!Sha256Of({prev_hash, kDomain, std::string_view(length_of_vehicle, 4), vehicle_id,
                 std::string_view(middle, sizeof middle), body},
                digest)) {
    return absl::InternalError("SHA-256 of a chain entry failed in OpenSSL");
  }
  out->assign(reinterpret_cast<const char*>(digest), kChainHashBytes);
  return absl::OkStatus();
}

std::string HexHash(std::string_view hash) {
  return absl::BytesToHexString(absl::string_view(hash.data(), hash.size()));
}

void HexHashInto(std::string_view hash, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out->resize(hash.size() * 2);
  for (std::size_t i = 0; i < hash.size(); ++i) {
    const auto b = static_cast<unsigned char>(hash[i]);
    (*out)[2 * i] = kDigits[b >> 4];
    (*out)[2 * i + 1] = kDigits[b & 0xf];
  }
}

}  // namespace cit::dispatch
