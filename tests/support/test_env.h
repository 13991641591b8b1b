// Test support: where shared data and built programs are, temp dirs, free ports, child processes.
//
//   cit::test::TempDir dir;                       // removed with its contents on destruction
//   int port = cit::test::FreeTcpPort();          // a port nobody listens on right now
//   cit::test::Process gpsd({"/usr/sbin/gpsd", "-N", ...});  // SIGKILLed on destruction
//   std::string log = cit::test::SharedData("gpsd/bundg_zeus_9.log");
//
// Thread contract: free functions are thread-safe; TempDir and Process are single-owner.
#ifndef CIT_TESTS_SUPPORT_TEST_ENV_H_
#define CIT_TESTS_SUPPORT_TEST_ENV_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace cit::test {

// Path below ../shared/data (env CIT_SHARED_DATA, set by CMake for every test).
std::filesystem::path SharedData(const std::string& relative);

// Path of a program built by this project, e.g. BuiltProgram("dispatch-server").
std::filesystem::path BuiltProgram(const std::string& name);

// Path below the source tree (env CIT_SOURCE_DIR).
std::filesystem::path SourcePath(const std::string& relative);

// A TCP port on 127.0.0.1 that was free when asked (bound to port 0, then released).
int FreeTcpPort();

// Polls `ready` every 20 ms until it returns true or `timeout` passes; returns its last answer.
bool WaitFor(const std::function<bool()>& ready,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A fresh directory under $TMPDIR, removed recursively when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A child process in its own process group. stdout/stderr go to `log_file` when given.
// Destruction SIGKILLs the whole group and reaps it (gpsfake sometimes ignores SIGTERM).
class Process {
 public:
  explicit Process(std::vector<std::string> argv, const std::filesystem::path& log_file = {},
                   const std::vector<std::string>& extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&&) = delete;
  Process& operator=(Process&&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `sig` to the process group.
  void Signal(int sig);
  // SIGKILL the group and reap; returns the wait status (or -1 if already reaped).
  int Kill();
  // Waits up to `timeout` for exit; returns the exit code, or -1 on timeout / signal death.
  int WaitExit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Reads a whole file (empty string if missing).
std::string ReadFile(const std::filesystem::path& path);

}  // namespace cit::test

#endif  // CIT_TESTS_SUPPORT_TEST_ENV_H_
