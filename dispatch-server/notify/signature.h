// The webhook signature: HMAC-SHA256 of the exact request body with the target's secret,
// sent as "X-Citwatch-Signature: sha256=<lower-case hex>" (the receiver recomputes and
// compares in constant time).
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_SIGNATURE_H_
#define CIT_DISPATCH_SERVER_NOTIFY_SIGNATURE_H_

#include <string>
#include <string_view>

namespace cit::dispatch {

inline constexpr char kSignatureHeader[] = "X-Citwatch-Signature";
inline constexpr char kIdempotencyHeader[] = "Idempotency-Key";

// "sha256=" + hex(HMAC-SHA256(secret, body)).
std::string SignBody(std::string_view secret, std::string_view body);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_SIGNATURE_H_
