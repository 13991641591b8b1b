#include "tests/support/test_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cit::test {
namespace {

std::filesystem::path EnvPath(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return std::filesystem::path(value != nullptr ? value : fallback);
}

}  // namespace

std::filesystem::path RepoData(const std::string& relative) {
  return SourcePath("tests/data") / relative;
}

std::filesystem::path SharedData(const std::string& relative) {
  return EnvPath("CIT_SHARED_DATA", "../shared/data") / relative;
}

std::string MissingSharedData(const std::vector<std::string>& relatives) {
  std::string missing;
  for (const std::string& relative : relatives) {
    const std::filesystem::path path = SharedData(relative);
    std::error_code ec;
    const bool readable =
        std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), R_OK) == 0;
    if (!readable) missing += (missing.empty() ? "" : ", ") + path.string();
  }
  if (missing.empty()) return "";
  return "skipped: needs data that may not ship with this repository, not found or unreadable: " +
         missing +
         ". Get the data set named in tests/data/ATTRIBUTION.md (\"Data that does not ship\") "
         "and put it at ../shared/data beside the source tree, or point CIT_SHARED_DATA (or the "
         "CMake cache variable CIT_SHARED_DATA_DIR) at it.";
}

std::filesystem::path BuiltProgram(const std::string& name) {
  return EnvPath("CIT_BINARY_DIR", ".") / name;
}

std::filesystem::path SourcePath(const std::string& relative) {
  return EnvPath("CIT_SOURCE_DIR", ".") / relative;
}

namespace {

bool CanBind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

int KernelChosenPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The ports the kernel never hands out on its own: those outside its ephemeral range, from which
// every listen on port 0 (gRPC's "127.0.0.1:0", node's listen(0)) and every outgoing connection
// takes its port. {0, 0} when that range leaves too little room.
std::pair<int, int> PortsTheKernelLeavesAlone() {
  int low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  if (low >= 12000) return {10000, low - 1};
  if (high <= 63000) return {high + 1, 65535};
  return {0, 0};
}

}  // namespace

int FreeTcpPort() {
  // A port is picked now and bound later by a child process; a port from the ephemeral range can
  // be taken meanwhile by another test's server on port 0 or a client's connection, and the child
  // then talks to a stranger (seen in CI: an agent "connected to gpsd" that never answered). So
  // pick at random outside that range, never the same one twice in this process.
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  const auto [first, last] = PortsTheKernelLeavesAlone();
  std::lock_guard lock(mu);
  if (first != 0) {
    std::uniform_int_distribution<int> pick(first, last);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const int port = pick(rng);
      if (handed_out.count(port) == 0 && CanBind(port)) {
        handed_out.insert(port);
        return port;
      }
    }
  }
  return KernelChosenPort();
}

bool WaitFor(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ready();
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "citwatch-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Process::Process(std::vector<std::string> argv, const std::filesystem::path& log_file,
                 const std::vector<std::string>& extra_env) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    if (!log_file.empty()) {
      int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
      }
    }
    for (const auto& kv : extra_env) ::putenv(const_cast<char*>(kv.c_str()));
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
}

Process::~Process() { Kill(); }

bool Process::Running() {
  if (reaped_) return false;
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    ::kill(-pid_, SIGKILL);  // leftover children of the group (gpsfake's gpsd)
    return false;
  }
  return true;
}

void Process::Signal(int sig) {
  if (!reaped_) ::kill(-pid_, sig);
}

int Process::Kill() {
  if (pid_ <= 0) return -1;
  ::kill(-pid_, SIGKILL);
  if (reaped_) return -1;
  ::waitpid(pid_, &status_, 0);
  reaped_ = true;
  return status_;
}

int Process::WaitExit(std::chrono::milliseconds timeout) {
  if (!WaitFor([this] { return !Running(); }, timeout)) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return -1;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace cit::test
