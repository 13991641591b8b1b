#include "tests/support/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/test_env.h"

namespace cit::test {
namespace {

const std::filesystem::path kBin = "/usr/lib/postgresql/15/bin";

// The uid/gid PostgreSQL runs as: ourselves, or `nobody` when we are root (it refuses root).
struct RunAs {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
};

RunAs ServerUser() {
  RunAs r;
  if (r.uid != 0) return r;
  if (const passwd* pw = ::getpwnam("nobody")) {
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
  }
  return r;
}

// Runs argv as `as`, output to `log`; returns the exit status text ("" on success).
std::string Run(const std::vector<std::string>& argv, const RunAs& as,
                const std::filesystem::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    // All paths are absolute; the caller's directory may be closed to the server's user.
    if (::chdir("/") != 0) ::_exit(125);
    if (::geteuid() == 0 && as.uid != 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0) {
        ::_exit(126);
      }
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return absl::StrCat(argv[0], " failed (status ", status, "), see ", log.string());
}

std::string ReadLog(const std::filesystem::path& log) {
  std::string out;
  if (FILE* f = std::fopen(log.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out.size() > 2000 ? out.substr(out.size() - 2000) : out;
}

void Chown(const std::filesystem::path& p, const RunAs& as) {
  if (::geteuid() == 0) (void)::chown(p.c_str(), as.uid, as.gid);
}

// The initdb'd cluster every process copies, made once (rename makes it appear atomically).
absl::StatusOr<std::filesystem::path> Template(const RunAs& as) {
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  const std::filesystem::path tmpl = tmp / absl::StrCat("citwatch-pg15-template-v1-", as.uid);
  std::error_code ec;
  if (std::filesystem::exists(tmpl / "PG_VERSION", ec)) return tmpl;
  std::string build = (tmp / "citwatch-pg15-initdb-XXXXXX").string();
  if (::mkdtemp(build.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  Chown(build, as);
  const std::filesystem::path log = std::filesystem::path(build) / "initdb.log";
  const std::filesystem::path data = std::filesystem::path(build) / "data";
  if (std::string err = Run({(kBin / "initdb").string(), "-D", data.string(), "-U", "postgres",
                             "--auth=trust", "--no-sync", "--locale=C", "-E", "UTF8"},
                            as, log);
      !err.empty()) {
    std::string detail = ReadLog(log);
    std::filesystem::remove_all(build, ec);
    return absl::InternalError(absl::StrCat(err, ": ", detail));
  }
  std::filesystem::rename(data, tmpl, ec);  // another process may have won: fine
  std::filesystem::remove_all(build, ec);
  if (!std::filesystem::exists(tmpl / "PG_VERSION", ec)) {
    return absl::InternalError(absl::StrCat("no PostgreSQL template at ", tmpl.string()));
  }
  return tmpl;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::error_code ec;
  for (const char* b : {"initdb", "pg_ctl", "postgres"}) {
    if (!std::filesystem::exists(kBin / b, ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat((kBin / b).string(),
                       " is missing: install the Debian package postgresql-15 "
                       "(deploy/install-deps.sh does)"));
    }
  }
  const RunAs as = ServerUser();
  absl::StatusOr<std::filesystem::path> tmpl = Template(as);
  if (!tmpl.ok()) return tmpl.status();
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  std::string dir = (std::filesystem::temp_directory_path() / "citwatch-pg-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  s->dir_ = dir;
  Chown(s->dir_, as);
  const std::filesystem::path data = s->dir_ / "data";
  const std::filesystem::path log = s->dir_ / "server.log";
  if (std::string err =
          Run({"/bin/cp", "-a", tmpl->string(), data.string()}, as, s->dir_ / "cp.log");
      !err.empty()) {
    return absl::InternalError(err);
  }
  // A free port can be taken between asking and binding: retry a few times.
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = FreeTcpPort();
    const std::string opts = absl::StrCat(
        "-c listen_addresses=127.0.0.1 -p ", s->port_, " -k ", s->dir_.string(),
        " -c fsync=off -c full_page_writes=off -c synchronous_commit=on -c max_connections=200");
    last_error = Run({(kBin / "pg_ctl").string(), "-D", data.string(), "-l", log.string(), "-w",
                      "-t", "60", "-o", opts, "start"},
                     as, s->dir_ / "pg_ctl.log");
    if (last_error.empty()) return s;
  }
  return absl::InternalError(
      absl::StrCat(last_error, ": ", ReadLog(s->dir_ / "pg_ctl.log"), ReadLog(log)));
}

PostgresServer::~PostgresServer() {
  if (dir_.empty()) return;
  (void)Run(
      {(kBin / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-m", "immediate", "-w", "stop"},
      ServerUser(), "/dev/null");
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PostgresServer::Conninfo(const std::string& database, const std::string& user) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " dbname=", database, " user=", user);
}

absl::Status PostgresServer::Exec(const std::string& database, const std::string& sql) const {
  try {
    pqxx::connection c(Conninfo(database));
    pqxx::nontransaction n(c);
    n.exec(sql);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("as postgres on ", database, ": ", e.what()));
  }
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase() {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    name = absl::StrCat("citwatch_test_", ++next_db_);
  }
  if (absl::Status s = Exec("postgres", absl::StrCat("CREATE DATABASE ", name)); !s.ok()) return s;
  return Conninfo(name);
}

namespace {

// Stops the shared server when the test program ends (gtest tears environments down).
class SharedPostgresEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard<std::mutex> lock(mu);
    server.reset();
  }
  std::mutex mu;
  std::unique_ptr<PostgresServer> server;
  std::string start_error;
};

SharedPostgresEnvironment* Env() {
  static SharedPostgresEnvironment* env = [] {
    auto* e = new SharedPostgresEnvironment();
    ::testing::AddGlobalTestEnvironment(e);  // owned by gtest from here
    return e;
  }();
  return env;
}

// Registers the environment before RUN_ALL_TESTS (environments added later are not torn down).
[[maybe_unused]] const bool kRegistered = (Env(), true);

}  // namespace

PostgresServer* SharedPostgres() {
  SharedPostgresEnvironment* env = Env();
  std::lock_guard<std::mutex> lock(env->mu);
  if (!env->server && env->start_error.empty()) {
    absl::StatusOr<std::unique_ptr<PostgresServer>> s = PostgresServer::Start();
    if (s.ok()) {
      env->server = std::move(*s);
    } else {
      env->start_error = s.status().ToString();
    }
  }
  if (!env->server) ADD_FAILURE() << "test PostgreSQL did not start: " << env->start_error;
  return env->server.get();
}

}  // namespace cit::test
