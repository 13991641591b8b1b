// Test support: where test data and built programs are, temp dirs, free ports, child processes.
//
//   cit::test::TempDir dir;                       // removed with its contents on destruction
//   int port = cit::test::FreeTcpPort();          // a port nobody listens on right now
//   cit::test::Process gpsd({"/usr/sbin/gpsd", "-N", ...});  // SIGKILLed on destruction
//   std::string log = cit::test::RepoData("gpsd/bundg_zeus_9.log");
//   CIT_SKIP_WITHOUT_SHARED_DATA("gtfs/israel-route-2126/shapes.txt");  // first in a test body
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

// Data that ships with the repository: tests/data/<relative> (origin and licences in
// tests/data/ATTRIBUTION.md). A missing file there is a broken checkout: tests fail on it.
std::filesystem::path RepoData(const std::string& relative);

// Data that may not ship (the Kubicka drives, the GTFS feed): <relative> below $CIT_SHARED_DATA,
// which CMake sets to the cache variable CIT_SHARED_DATA_DIR (default ../shared/data beside the
// source tree). A test that needs it starts with CIT_SKIP_WITHOUT_SHARED_DATA.
std::filesystem::path SharedData(const std::string& relative);

// "" when every SharedData(relative) is a readable regular file; otherwise a skip message that
// names the missing files, the data set and how to get it.
std::string MissingSharedData(const std::vector<std::string>& relatives);

// Skips the current test (use in a test body or SetUp) unless the shared data files are readable.
#define CIT_SKIP_WITHOUT_SHARED_DATA(...)                                                 \
  if (const std::string cit_missing_data = ::cit::test::MissingSharedData({__VA_ARGS__}); \
      !cit_missing_data.empty())                                                          \
  GTEST_SKIP() << cit_missing_data

// Path of a program built by this project, e.g. BuiltProgram("dispatch-server").
std::filesystem::path BuiltProgram(const std::string& name);

// Path below the source tree (env CIT_SOURCE_DIR).
std::filesystem::path SourcePath(const std::string& relative);

// A TCP port on 127.0.0.1 that was free when asked, outside the kernel's ephemeral range (so no
// listener on port 0 and no outgoing connection can take it before the caller binds it), and
// never handed out twice in one process.
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
