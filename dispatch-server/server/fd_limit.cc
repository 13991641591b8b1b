#include "dispatch-server/server/fd_limit.h"

#include <dirent.h>
#include <sys/resource.h>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {

FdLimits RaiseFdLimit() {
  FdLimits out;
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return out;
  out.soft_before = r.rlim_cur;
  out.hard = r.rlim_max;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);  // keeps the old limit on failure; reported below
  }
  out.soft = SoftFdLimit();
  return out;
}

uint64_t SoftFdLimit() {
  rlimit r{};
  return getrlimit(RLIMIT_NOFILE, &r) == 0 ? r.rlim_cur : 0;
}

int OpenFdCount() {
  // opendir itself takes a descriptor: when none is left, report the limit as reached.
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

absl::Status FdHeadroom(int reserve) {
  const uint64_t limit = SoftFdLimit();
  const int open = OpenFdCount();
  if (open < 0) {
    return absl::UnavailableError(
        absl::StrCat("file descriptors exhausted (limit ", limit, "): cannot accept vehicles"));
  }
  if (static_cast<uint64_t>(open) + static_cast<uint64_t>(reserve) >= limit) {
    return absl::UnavailableError(absl::StrCat("file descriptors nearly exhausted (", open,
                                               " open of ", limit, "): cannot accept vehicles"));
  }
  return absl::OkStatus();
}

}  // namespace cit::dispatch
