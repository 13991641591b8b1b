// "host:port" addresses as the config file writes them.
//
//   std::string host; int port;
//   if (!SplitHostPort("[::1]:9464", &host, &port)) ...   // host "::1", port 9464
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_COMMON_HOST_PORT_H_
#define CIT_DISPATCH_COMMON_HOST_PORT_H_

#include <string>

namespace cit::dispatch {

// Splits "host:port" / "[v6]:port" (an empty host means 0.0.0.0); false when malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_COMMON_HOST_PORT_H_
