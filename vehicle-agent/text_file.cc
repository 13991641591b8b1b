#include "vehicle-agent/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cit::agent {
namespace {

absl::Status Errno(int err, const std::string& what, const std::filesystem::path& path,
                   const char* doing) {
  const std::string msg =
      absl::StrCat(what, " ", path.string(), ": cannot ", doing, ": ", std::strerror(err));
  return err == ENOENT ? absl::NotFoundError(msg) : absl::PermissionDeniedError(msg);
}

// Closes the descriptor on every return path.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

absl::StatusOr<std::string> ReadTextFile(const std::filesystem::path& path, const std::string& what,
                                         uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not hang the agent; it is refused below as not regular.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) return Errno(errno, what, path, "open");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return Errno(errno, what, path, "stat");
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path.string(), ": not a regular file; give the path of a file"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(what, " ", path.string(), ": ", st.st_size,
                                                      " bytes, over the limit of ", max_bytes));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(f.fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(errno, what, path, "read");
    if (n == 0) break;  // shrank while we read: take what is there
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace cit::agent
