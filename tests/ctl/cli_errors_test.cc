// Errors a new operator meets, each answered with what is wrong and what to do (issue 14 §3):
// a URL or a host without port as --server, the telemetry port instead of the operator port,
// --timeout 0, no token, a missing token file (exit 4, not 5), a missing or non-PEM CA file,
// config keys with underscores (`token_file`) and unknown config keys, an unknown token, a role
// that may not act, and TLS against the wrong port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/ctl/ctl_fixtures.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/support/test_env.h"

namespace cit::ctl {
namespace {

using cit::test::CtlRun;
using cit::test::RunCtl;
using ::testing::HasSubstr;
using ::testing::Not;

class CliErrorsTest : public ::testing::Test {
 protected:
  CtlRun Ctl(const std::string& args) { return RunCtl(dir_.path(), args); }
  std::string File(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  cit::test::TempDir dir_;
};

TEST_F(CliErrorsTest, UrlAsServerSaysToDropTheScheme) {
  const CtlRun r = Ctl("--server http://dispatch.example:7444 --token t fleet");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("has a scheme"));
  EXPECT_THAT(r.err, HasSubstr("e.g. dispatch.example:7444 "));
}

TEST_F(CliErrorsTest, HostWithoutPortSuggestsTheOperatorPort) {
  const CtlRun r = Ctl("--server dispatch.example --token t fleet");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("has no port"));
  EXPECT_THAT(r.err, HasSubstr("dispatch.example:7444"));
}

TEST_F(CliErrorsTest, BadPortsAndUnbracketedIpv6AreNamed) {
  CtlRun r = Ctl("--server localhost:99999 --token t fleet");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not a number from 1 to 65535"));
  r = Ctl("--server ::1:7444 --token t fleet");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("[::1]:7444"));
}

TEST_F(CliErrorsTest, ZeroTimeoutIsAUsageError) {
  const CtlRun r = Ctl("--timeout 0 --insecure fleet");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--timeout 0 is not a deadline"));
}

TEST_F(CliErrorsTest, NoTokenSaysWhereToPutOne) {
  const CtlRun r = Ctl("fleet");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no token: pass --token-file"));
}

TEST_F(CliErrorsTest, MissingTokenFileExitsFourAndNamesTheFile) {
  const CtlRun r = Ctl("--token-file /nonexistent/olga.token fleet");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("'/nonexistent/olga.token' cannot be read (No such file"));
}

TEST_F(CliErrorsTest, EmptyTokenFileIsNamed) {
  const CtlRun r = Ctl("--token-file " + File("empty.token", "\n") + " fleet");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("has an empty first line"));
}

TEST_F(CliErrorsTest, MissingOrNonPemCaFileIsNamedBeforeConnecting) {
  CtlRun r = Ctl("--token t --ca-file /nonexistent/ca.crt fleet");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("CA file '/nonexistent/ca.crt' cannot be read"));
  EXPECT_THAT(r.err, Not(HasSubstr("grpc")));  // no gRPC log line
  r = Ctl("--token t --ca-file " + File("key.pem", "-----BEGIN PRIVATE KEY-----\n") + " fleet");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("holds no PEM certificate"));
}

TEST_F(CliErrorsTest, ConfigKeyWithUnderscoreIsUsed) {
  // The token file named by `token_file` is read: its absence is reported by name.
  const std::string config = File("ctl.toml", "token_file = \"/nonexistent/from-config.token\"\n");
  const CtlRun r = Ctl("--config " + config + " fleet");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/from-config.token"));
}

TEST_F(CliErrorsTest, UnknownConfigKeyIsRefusedByName) {
  const std::string config = File("ctl.toml", "server = \"localhost:7444\"\ntoken_fiel = \"x\"\n");
  const CtlRun r = Ctl("--config " + config + " fleet");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("does not know: 'token-fiel'"));
  EXPECT_THAT(r.err, HasSubstr("token-file"));
}

TEST_F(CliErrorsTest, DefaultServerIsTheOperatorPortAndRefusalExplainsIt) {
  const CtlRun r = Ctl("--insecure --timeout 2 fleet");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("localhost:7444"));
  EXPECT_THAT(r.err, HasSubstr("is dispatch-server running there"));
}

// Against a live TLS server with tokens.
class CliErrorsLiveTest : public cit::test::LiveServerTest {};

TEST_F(CliErrorsLiveTest, UnknownTokenSaysHowToCheckIt) {
  EXPECT_EQ(Ctl("stranger", "fleet"), 4) << err_;
  EXPECT_THAT(err_, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(err_, HasSubstr("dispatchctl token hash"));
}

TEST_F(CliErrorsLiveTest, RoleThatMayNotActIsExplained) {
  EXPECT_EQ(Ctl("aude", "ack 1"), 4) << err_;
  EXPECT_THAT(err_, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(err_, HasSubstr("your role may not do this"));
}

TEST_F(CliErrorsLiveTest, TelemetryPortInsteadOfOperatorPortIsNamed) {
  const CtlRun r =
      RunCtl(dir_.path(), "--server localhost:" + std::to_string(telemetry_port_) + " --ca-file " +
                              (dir_ / "pki" / "ca.crt").string() + " --token-file " +
                              (dir_ / "olga.token").string() + " --timeout 5 fleet");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the TLS connection to localhost:"));
}

}  // namespace
}  // namespace cit::ctl
