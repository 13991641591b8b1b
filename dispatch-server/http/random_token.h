// Unguessable identifiers for browser sessions and CSRF tokens: 32 bytes from OpenSSL's CSPRNG
// (RAND_bytes), base64url without padding (43 characters, cookie- and header-safe).
//
//   std::string id = RandomToken();
//
// Thread contract: thread-safe (OpenSSL's RNG is).
#ifndef CIT_DISPATCH_SERVER_HTTP_RANDOM_TOKEN_H_
#define CIT_DISPATCH_SERVER_HTTP_RANDOM_TOKEN_H_

#include <string>
#include <string_view>

namespace cit::dispatch {

// Aborts if the CSPRNG fails: a predictable session id must never be issued.
std::string RandomToken();

// Constant-time equality (length may leak, content does not): CSRF and session checks.
bool SecretEquals(std::string_view a, std::string_view b);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_RANDOM_TOKEN_H_
