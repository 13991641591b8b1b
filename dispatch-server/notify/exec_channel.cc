#include "dispatch-server/notify/exec_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace cit::dispatch {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

int RemainingMs(SteadyTime deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Writes the payload to the child's stdin without blocking past the deadline; a child that
// exits without reading it is not an error here (its exit status decides).
// Writing to a hook that exits without reading its input (/bin/true, or one that crashed) raises
// SIGPIPE, whose default action ends the whole server: seen in CI, where under load the hook
// had exited before the payload was written. SIGPIPE from write() goes to the writing thread, so
// it is blocked in this thread while writing and a pending one is consumed before unblocking;
// the write then just fails with EPIPE.
class SigpipeBlockedInThisThread {
 public:
  SigpipeBlockedInThisThread() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlockedInThisThread() {
    const timespec now{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &now) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlockedInThisThread(const SigpipeBlockedInThisThread&) = delete;
  SigpipeBlockedInThisThread& operator=(const SigpipeBlockedInThisThread&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
};

void FeedStdin(int fd, std::string_view data, SteadyTime deadline) {
  const SigpipeBlockedInThisThread no_sigpipe;
  while (!data.empty()) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, RemainingMs(deadline)) <= 0) return;
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EAGAIN) continue;
    if (n <= 0) return;  // EPIPE: the child closed stdin
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

DeliveryResult ExecChannel::Deliver(const Notification& n) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return {false, absl::StrCat("pipe: ", strerror(errno))};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The server blocks SIGTERM/SIGINT in every thread; the hook must not inherit that mask.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> argv;
  for (const std::string& a : argv_) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
  env_store.push_back("CITWATCH_IDEMPOTENCY_KEY=" + n.key);
  std::vector<char*> envp;
  for (std::string& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv_[0].c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(pipe_fds[0]);
  if (rc != 0) {
    close(pipe_fds[1]);
    return {false, absl::StrCat("cannot run ", argv_[0], ": ", strerror(rc))};
  }
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout_;
  fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
  FeedStdin(pipe_fds[1], n.body, deadline);
  close(pipe_fds[1]);

  // Wait for the exit with a deadline: a pidfd becomes readable when the child exits.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  bool exited = false;
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    exited = poll(&p, 1, RemainingMs(deadline)) > 0;
    close(pidfd);
  }
  int status = 0;
  if (!exited) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
    } else {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return {false,
              absl::StrCat(argv_[0], " ran longer than ", timeout_.count(), " ms and was killed")};
    }
  } else {
    waitpid(pid, &status, 0);
  }
  if (WIFEXITED(status)) {
    return {WEXITSTATUS(status) == 0, absl::StrCat("exit status ", WEXITSTATUS(status))};
  }
  return {false, absl::StrCat("killed by signal ", WTERMSIG(status))};
}

}  // namespace cit::dispatch
