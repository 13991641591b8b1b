// dispatchctl behaviour that needs no server: help, usage errors, exit codes for an unreachable
// server, token generation and hashing that match what the server's token file expects.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "dispatch-server/auth/token_file.h"
#include "tests/ctl/ctl_fixtures.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

using cit::test::ReadFile;

class CliOfflineTest : public ::testing::Test {
 protected:
  // Runs dispatchctl with `args` (shell syntax); stdout in out_, stderr in err_.
  int Ctl(const std::string& args, const std::string& stdin_text = "") {
    cit::test::CtlRun run = cit::test::RunCtl(dir_.path(), args, stdin_text);
    out_ = run.out;
    err_ = run.err;
    return run.exit_code;
  }
  cit::test::TempDir dir_;
  std::string out_;
  std::string err_;
};

TEST_F(CliOfflineTest, EveryCommandHasHelpWithExitCodes) {
  for (const char* cmd : {"", "watch", "ack", "resolve", "alerts list", "fleet", "plan create",
                          "plan show", "plan list", "plan dispatch", "plan abort", "audit report",
                          "audit export", "audit verify"}) {
    EXPECT_EQ(Ctl(std::string(cmd) + " --help"), 0) << cmd;
    EXPECT_NE(out_.find("Exit codes:"), std::string::npos) << cmd << "\n" << out_;
  }
}

TEST_F(CliOfflineTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Ctl(""), 2);
  EXPECT_EQ(Ctl("plan"), 2);
  EXPECT_EQ(Ctl("ack"), 2);  // ALERT missing
  EXPECT_EQ(Ctl("audit export R1 --format kml"), 2);
  EXPECT_EQ(Ctl("audit report R1 --format csv"), 2);  // --format belongs to --export
  EXPECT_EQ(Ctl("audit report R1 --export -"), 2);    // stdout holds the report
  EXPECT_NE(err_.find("needs a file"), std::string::npos) << err_;
  EXPECT_EQ(Ctl("plan create /nonexistent/plan.toml"), 2);
}

TEST_F(CliOfflineTest, BadPlanFileIsRefusedBeforeConnectingAndNamesTheField) {
  std::ofstream(dir_ / "plan.toml") << "run_id = \"R\"\nvehicle_id = \"V\"\n[route]\n"
                                       "points = [[8.5, 47.3], [8.6, 95.0]]\n";
  EXPECT_EQ(Ctl("--server 127.0.0.1:1 plan create " + (dir_ / "plan.toml").string()), 2);
  EXPECT_NE(err_.find("route.points[1]"), std::string::npos) << err_;
}

TEST_F(CliOfflineTest, UnreachableServerExitsThree) {
  const int port = cit::test::FreeTcpPort();
  EXPECT_EQ(Ctl("--server 127.0.0.1:" + std::to_string(port) + " --insecure --timeout 1 fleet"), 3)
      << err_;
  EXPECT_NE(err_.find("UNAVAILABLE"), std::string::npos) << err_;
}

TEST_F(CliOfflineTest, TokenNewPrintsAnEntryTheServerAcceptsForThatToken) {
  ASSERT_EQ(Ctl("token new --name alice --role auditor"), 0) << err_;
  // Line 2 is "# <token>"; the rest, without comments, is the token-file entry.
  std::istringstream lines(out_);
  std::string line;
  std::string token;
  std::string entry;
  for (int i = 0; std::getline(lines, line); ++i) {
    if (i == 1) token = line.substr(2);
    if (line.rfind("#", 0) != 0) entry += line + "\n";
  }
  auto file = cit::dispatch::TokenFile::Parse(entry, "entry");
  ASSERT_TRUE(file.ok()) << file.status() << "\n" << entry;
  auto who = file->Authenticate(token);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->name, "alice");
  EXPECT_EQ(who->role, cit::dispatch::Role::kAuditor);
  EXPECT_EQ(Ctl("token new --name bob --role root"), 2);
}

TEST_F(CliOfflineTest, TokenHashReadsStdinAndMatchesTheServerHash) {
  ASSERT_EQ(Ctl("token hash", "s3cret-token\n"), 0) << err_;
  EXPECT_EQ(out_, cit::dispatch::TokenHashHex("s3cret-token") + "\n");
}

}  // namespace
}  // namespace cit::ctl
