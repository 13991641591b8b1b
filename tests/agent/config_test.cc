// Agent configuration: defaults, the shipped example file, validation errors.
#include "vehicle-agent/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_env.h"

namespace cit::agent {
namespace {

TEST(ConfigTest, EmptyFileGivesDocumentedDefaults) {
  auto c = ParseConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->journal.fsync, FsyncPolicy::kInterval);
  EXPECT_EQ(c->journal.fsync_interval_ms, 200u);
  EXPECT_EQ(c->gps.port, "2947");
  EXPECT_EQ(c->uplink.batch_max_records, 500u);
  EXPECT_FALSE(c->uplink.insecure);
  EXPECT_TRUE(c->sensors.gpio.empty());
}

TEST(ConfigTest, ShippedExampleParsesAndValidates) {
  auto c = LoadConfigFile(test::SourcePath("deploy/vehicle-agent.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->vehicle_id, "CIT-0001");
  EXPECT_EQ(c->sensors.socket_mode, 0660u);
  ASSERT_EQ(c->sensors.gpio.size(), 3u);
  EXPECT_EQ(c->sensors.gpio[0].kind, GpioInputConfig::Kind::kDoor);
  EXPECT_EQ(c->sensors.gpio[0].line, 17u);
  EXPECT_TRUE(c->sensors.gpio[0].active_low);
  EXPECT_EQ(c->sensors.gpio[2].kind, GpioInputConfig::Kind::kPanic);
  EXPECT_EQ(c->sensors.gpio[2].debounce_ms, 20u);
  EXPECT_TRUE(ValidateConfig(*c).ok()) << ValidateConfig(*c);
}

TEST(ConfigTest, OverridesAndErrors) {
  auto c = ParseConfig(R"(
vehicle_id = "T-9"
[journal]
fsync = "always"
[gps]
port = 3000
[uplink]
insecure = true
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->vehicle_id, "T-9");
  EXPECT_EQ(c->journal.fsync, FsyncPolicy::kAlways);
  EXPECT_EQ(c->gps.port, "3000");
  EXPECT_TRUE(ValidateConfig(*c).ok());

  EXPECT_FALSE(ParseConfig("[journal]\nfsync = \"sometimes\"\n").ok());
  EXPECT_FALSE(ParseConfig("[[sensors.gpio]]\nkind = \"horn\"\nline = 3\n").ok());
  EXPECT_FALSE(ParseConfig("[[sensors.gpio]]\nkind = \"door\"\n").ok());  // no line
  EXPECT_FALSE(ParseConfig("vehicle_id = ").ok());                        // not TOML
  // TLS is the default: without certificate files the config is refused.
  auto tls = ParseConfig("vehicle_id = \"T-9\"\n");
  ASSERT_TRUE(tls.ok());
  EXPECT_FALSE(ValidateConfig(*tls).ok());
}

TEST(ConfigTest, MissingDirectoryDeviceOrHugeConfigIsAnErrorNamingThePath) {
  test::TempDir dir;
  auto missing = LoadConfigFile(dir / "nope.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.toml"), std::string::npos) << missing.status();
  // A directory used to read as an empty file: every default, silently.
  auto directory = LoadConfigFile(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("not a regular file"), std::string::npos)
      << directory.status();
  EXPECT_FALSE(LoadConfigFile("/dev/zero").ok());  // endless: refused, not read
  std::ofstream(dir / "huge.toml") << std::string((4 << 20) + 1, '#');
  auto huge = LoadConfigFile(dir / "huge.toml");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("over the limit"), std::string::npos) << huge.status();
}

// Values that used to be taken silently (a float or a string cast to an integer, a negative
// number wrapped to 4294967295, a misspelt key ignored) are refused with the key's name.
TEST(ConfigTest, WrongTypesOutOfRangeValuesAndUnknownKeysAreRefusedByName) {
  struct Case {
    const char* toml;
    const char* message;
  };
  const Case cases[] = {
      {"heartbeat_interval_s = 1.8446744073709552e19\n", "heartbeat_interval_s must be an integer"},
      {"heartbeat_interval_s = \"30\"\n", "heartbeat_interval_s must be an integer"},
      {"heartbeat_interval_s = -1\n", "heartbeat_interval_s must not be negative"},
      {"[uplink]\nbatch_max_records = 4294967296\n",
       "uplink.batch_max_records = 4294967296 is too large"},
      {"[journal]\nfsync_intervall_ms = 100\n", "unknown key journal.fsync_intervall_ms"},
      {"vehicle = \"T-1\"\n", "unknown key vehicle"},
      {"[uplink]\ninsecure = \"yes\"\n", "uplink.insecure must be true or false"},
      {"[journal]\nfsync = 1\n", "journal.fsync must be a string"},
      {"[gps]\nport = 70000\n", "gps.port must be a port number"},
      {"gps = 3\n", "[gps] must be a table"},
      {"[sensors]\ngpio = 3\n", "sensors.gpio must be"},
      {"[[sensors.gpio]]\nline = 3\npin = 4\n", "unknown key sensors.gpio.pin"},
      {"[uplink]\nserver = \"a:1\"\nservers = [\"b:2\"]\n", "either uplink.server"},
      {"[uplink]\nservers = \"a:1\"\n", "uplink.servers must be a list"},
      {"[uplink]\nservers = [\"a:1\", 7443]\n", "uplink.servers must be a list"},
      {"[uplink]\nserver = 7443\n", "uplink.server must be a string"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseConfig(c.toml);
    ASSERT_FALSE(parsed.ok()) << c.toml;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.toml;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.toml << " -> " << parsed.status();
  }
}

TEST(ConfigTest, OneServerOrAListOfInstancesInOrderOfPreference) {
  auto one = ParseConfig("[uplink]\nserver = \"dispatch.example.org:7443\"\n");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->uplink.servers, std::vector<std::string>{"dispatch.example.org:7443"});
  auto two = ParseConfig("[uplink]\nservers = [\"dispatch-a:7443\", \"dispatch-b:7443\"]\n");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->uplink.servers, (std::vector<std::string>{"dispatch-a:7443", "dispatch-b:7443"}));
  EXPECT_EQ(ParseConfig("")->uplink.servers, std::vector<std::string>{"localhost:7443"});
}

TEST(ConfigTest, ServerListsThatCannotWorkAreRefusedSayingWhy) {
  AgentConfig c = *ParseConfig("vehicle_id = \"T-1\"\n[uplink]\ninsecure = true\n");
  ASSERT_TRUE(ValidateConfig(c).ok());
  struct Case {
    std::vector<std::string> servers;
    const char* message;
  };
  const Case cases[] = {
      {{}, "uplink.servers is empty"},
      {{"a:1", ""}, "is not host:port"},
      {{"a:1,b:2"}, "\"a:1,b:2\" is not host:port"},
      {std::vector<std::string>(kMaxUplinkServers + 1, "a:1"), "at most 16"},
  };
  for (const Case& k : cases) {
    c.uplink.servers = k.servers;
    const absl::Status s = ValidateConfig(c);
    EXPECT_NE(s.message().find(k.message), std::string::npos) << s;
  }
}

TEST(ConfigTest, PortAsNumberOrServiceNameAndLargestValuesAreAccepted) {
  auto c = ParseConfig(
      "[gps]\nport = \"gpsd\"\n[journal]\nmax_bytes = 9223372036854775807\n"
      "[uplink]\nbatch_max_records = 4294967295\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gps.port, "gpsd");
  EXPECT_EQ(c->journal.max_bytes, 9223372036854775807ull);
  EXPECT_EQ(c->uplink.batch_max_records, 4294967295u);
}

}  // namespace
}  // namespace cit::agent
