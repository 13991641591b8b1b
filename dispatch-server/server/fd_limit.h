// File descriptors: every vehicle stream, operator call and metrics scrape holds one, so running
// out stops the server accepting (gRPC 1.51 stops listening on a port after accept() fails with
// EMFILE). The server raises its soft limit to the hard limit at start-up and reports itself
// not serving while fewer than a reserve of descriptors are left.
//
//   FdLimits l = RaiseFdLimit();          // log l.soft_before, l.soft, l.hard
//   if (OpenFdCount() + 64 >= l.soft) ... // nearly exhausted
//
// Thread contract: RaiseFdLimit once at start-up; OpenFdCount from any thread.
#ifndef CIT_DISPATCH_SERVER_FD_LIMIT_H_
#define CIT_DISPATCH_SERVER_FD_LIMIT_H_

#include <cstdint>

#include "absl/status/status.h"

namespace cit::dispatch {

struct FdLimits {
  uint64_t soft_before = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// Sets the soft RLIMIT_NOFILE to the hard limit; returns both (and the soft limit before).
FdLimits RaiseFdLimit();
// The current soft RLIMIT_NOFILE.
uint64_t SoftFdLimit();
// Descriptors open in this process (entries of /proc/self/fd); -1 when it cannot be read.
int OpenFdCount();
// OK while more than `reserve` descriptors are left under the soft limit, else UNAVAILABLE
// with the numbers.
absl::Status FdHeadroom(int reserve);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_FD_LIMIT_H_
