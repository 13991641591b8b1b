// dispatch-server configuration: defaults, overrides from TOML, refusal of typos and bad values.
#include "dispatch-server/config/config.h"

#include <gtest/gtest.h>

#include "dispatch-server/server/dispatch_server.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

TEST(ServerConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseServerConfig("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.telemetry_address, "0.0.0.0:7443");
  EXPECT_EQ(c->server.ingest.group_commit_delay, std::chrono::milliseconds(50));
  EXPECT_EQ(c->server.ingest.max_batch_records, 1000u);
  EXPECT_EQ(c->server.durability, sqlite::Durability::kFull);
  EXPECT_EQ(c->log_level, "info");
}

TEST(ServerConfigTest, KeysOverrideDefaultsAndPathsResolveAgainstTheFile) {
  auto c = ParseServerConfig(R"(
[telemetry]
listen = "127.0.0.1:9000"
[tls]
ca = "certs/ca.crt"
cert = "/abs/server.crt"
[store]
durability = "normal"
[ingest]
group_commit_ms = 20
max_future_s = 60
[monitor]
anything = "belongs to another component"
)",
                             "/etc/citwatch");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.telemetry_address, "127.0.0.1:9000");
  EXPECT_EQ(c->server.tls.ca_file, "/etc/citwatch/certs/ca.crt");
  EXPECT_EQ(c->server.tls.cert_file, "/abs/server.crt");
  EXPECT_EQ(c->server.durability, sqlite::Durability::kNormal);
  EXPECT_EQ(c->server.ingest.group_commit_delay, std::chrono::milliseconds(20));
  EXPECT_EQ(c->server.ingest.limits.max_future, std::chrono::seconds(60));
  EXPECT_TRUE(c->raw["monitor"].is_table()) << "other sections stay available";
}

// How often live runs' monitor state is snapshotted (docs/alerts.md "Restarts").
TEST(ServerConfigTest, SnapshotIntervalDefaultsTo300AndTakesZeroButNotNegative) {
  auto c = ParseServerConfig("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.monitor_snapshot_interval_s, 300);
  c = ParseServerConfig("[store]\nsnapshot_interval_s = 60\n", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.monitor_snapshot_interval_s, 60);
  c = ParseServerConfig("[store]\nsnapshot_interval_s = 0\n", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.monitor_snapshot_interval_s, 0);
  c = ParseServerConfig("[store]\nsnapshot_interval_s = -5\n", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("store.snapshot_interval_s"), std::string::npos)
      << c.status();
}

// Issue 16 §1: the in-flight budget, the commit cap and gRPC's memory quota are configurable.
TEST(ServerConfigTest, InflightBudgetCommitCapAndQuotaAreReadAndChecked) {
  auto c = ParseServerConfig(
      "[telemetry]\nmemory_quota_bytes = 1000000\nstream_window_bytes = 32768\n"
      "[ingest]\nmax_inflight_records = 5000\nmax_inflight_bytes = 2000000\n"
      "inflight_reserve_records = 50\ninflight_reserve_bytes = 5000\nmax_commit_records = 300\n",
      {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.telemetry_memory_quota_bytes, 1000000);
  EXPECT_EQ(c->server.telemetry_stream_window_bytes, 32768);
  EXPECT_EQ(c->server.ingest.budget.max_records, 5000u);
  EXPECT_EQ(c->server.ingest.budget.max_bytes, 2000000u);
  EXPECT_EQ(c->server.ingest.budget.reserve_records, 50u);
  EXPECT_EQ(c->server.ingest.budget.reserve_bytes, 5000u);
  EXPECT_EQ(c->server.ingest.max_commit_records, 300u);
  c = ParseServerConfig("[ingest]\nmax_commit_records = 0\n", {});
  ASSERT_TRUE(c.ok());
  c->server.insecure_dev = true;
  absl::Status st = ValidateServerConfig(*c);
  EXPECT_NE(st.message().find("ingest.max_commit_records"), std::string::npos) << st;
  c = ParseServerConfig("[ingest]\nmax_inflight_records = 10\n", {});
  ASSERT_TRUE(c.ok());
  c->server.insecure_dev = true;
  st = ValidateServerConfig(*c);
  EXPECT_NE(st.message().find("ingest.max_inflight_records"), std::string::npos) << st;
}

// Issue 16 §1: the memory bound and the telemetry port's TLS frame size are configurable, and
// a TLS frame size gRPC would clamp silently is refused.
TEST(ServerConfigTest, MemoryLimitAndTlsFrameSizeAreReadAndChecked) {
  auto c = ParseServerConfig(
      "[server]\nmemory_limit_bytes = 2147483648\n"
      "[telemetry]\ntls_frame_bytes = 8192\n",
      {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.memory_limit_bytes, int64_t{2147483648});
  EXPECT_EQ(c->server.telemetry_tls_frame_bytes, 8192);
  c = ParseServerConfig("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.memory_limit_bytes, int64_t{1} << 30);
  EXPECT_EQ(c->server.telemetry_tls_frame_bytes, 4096);
  for (const char* bad :
       {"[telemetry]\ntls_frame_bytes = 512\n", "[telemetry]\ntls_frame_bytes = 65536\n",
        "[server]\nmemory_limit_bytes = -1\n"}) {
    // Refused when parsed (a negative count) or when checked (a size gRPC would clamp).
    c = ParseServerConfig(bad, {});
    absl::Status st = c.status();
    if (c.ok()) {
      c->server.insecure_dev = true;
      st = ValidateServerConfig(*c);
    }
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_TRUE(st.message().find("tls_frame_bytes") != std::string::npos ||
                st.message().find("memory_limit_bytes") != std::string::npos)
        << st;
  }
}

TEST(ServerConfigTest, TypoInKnownSectionIsAnError) {
  auto c = ParseServerConfig("[ingest]\ngroup_comit_ms = 20\n", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("ingest.group_comit_ms"), std::string::npos);
}

TEST(ServerConfigTest, WrongTypesAndValuesAreErrors) {
  EXPECT_FALSE(ParseServerConfig("[ingest]\nmax_batch_records = \"many\"\n", {}).ok());
  EXPECT_FALSE(ParseServerConfig("[ingest]\nmax_batch_records = -1\n", {}).ok());
  EXPECT_FALSE(ParseServerConfig("[store]\ndurability = \"sometimes\"\n", {}).ok());
  EXPECT_FALSE(ParseServerConfig("[tls\n", {}).ok()) << "TOML syntax error";
}

TEST(ServerConfigTest, StoreBackendDefaultsToSqliteAndPostgresqlNeedsAConnection) {
  auto d = ParseServerConfig("[tls]\ninsecure_dev = true\n", {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->server.store_backend, DispatchServerOptions::StoreBackend::kSqlite);
  EXPECT_TRUE(ValidateServerConfig(*d).ok());

  auto pg = ParseServerConfig(
      "[tls]\ninsecure_dev = true\n[store]\nbackend = \"postgresql\"\n"
      "connection = \"host=db1 port=5432 dbname=citwatch user=dispatch\"\npool_size = 8\n",
      {});
  ASSERT_TRUE(pg.ok()) << pg.status();
  EXPECT_EQ(pg->server.store_backend, DispatchServerOptions::StoreBackend::kPostgresql);
  EXPECT_EQ(pg->server.postgres_connection, "host=db1 port=5432 dbname=citwatch user=dispatch");
  EXPECT_EQ(pg->server.postgres_pool_size, 8u);
  EXPECT_TRUE(ValidateServerConfig(*pg).ok());

  auto unknown = ParseServerConfig("[store]\nbackend = \"mysql\"\n", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("\"sqlite\" or \"postgresql\""), std::string::npos);
  EXPECT_FALSE(ParseServerConfig("[store]\npool = 3\n", {}).ok()) << "unknown key";

  auto no_conn =
      ParseServerConfig("[tls]\ninsecure_dev = true\n[store]\nbackend = \"postgresql\"\n", {});
  ASSERT_TRUE(no_conn.ok());
  absl::Status s = ValidateServerConfig(*no_conn);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("store.connection is required"), std::string::npos) << s;
  auto conn_for_sqlite =
      ParseServerConfig("[tls]\ninsecure_dev = true\n[store]\nconnection = \"host=db1\"\n", {});
  ASSERT_TRUE(conn_for_sqlite.ok());
  EXPECT_FALSE(ValidateServerConfig(*conn_for_sqlite).ok()) << "a connection sqlite ignores";
  pg->server.postgres_pool_size = 0;
  EXPECT_FALSE(ValidateServerConfig(*pg).ok());
}

TEST(ServerConfigTest, AnInstanceNameIsForPostgresqlOnlyAndMustBeAPlainName) {
  const std::string pg =
      "[tls]\ninsecure_dev = true\n[store]\nbackend = \"postgresql\"\nconnection = \"host=db1\"\n";
  auto named = ParseServerConfig(pg + "instance = \"dispatch-a\"\n", {});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->server.postgres_instance, "dispatch-a");
  EXPECT_TRUE(ValidateServerConfig(*named).ok());

  auto spaced = ParseServerConfig(pg + "instance = \"dispatch a\"\n", {});
  ASSERT_TRUE(spaced.ok());
  absl::Status s = ValidateServerConfig(*spaced);
  EXPECT_NE(s.message().find("store.instance \"dispatch a\" must be 1-64 characters"),
            std::string::npos)
      << s;
  auto on_sqlite =
      ParseServerConfig("[tls]\ninsecure_dev = true\n[store]\ninstance = \"dispatch-a\"\n", {});
  ASSERT_TRUE(on_sqlite.ok());
  s = ValidateServerConfig(*on_sqlite);
  EXPECT_NE(s.message().find("share only a PostgreSQL database"), std::string::npos) << s;
}

TEST(ServerConfigTest, InstanceExpiryDefaultsToTenSecondsAndIsBounded) {
  const std::string pg =
      "[tls]\ninsecure_dev = true\n[store]\nbackend = \"postgresql\"\nconnection = "
      "\"host=db1\"\ninstance = \"dispatch-a\"\n";
  auto plain = ParseServerConfig(pg, {});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->server.instance_expiry, std::chrono::milliseconds(10'000));
  auto set = ParseServerConfig(pg + "instance_expiry_ms = 4000\n", {});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->server.instance_expiry, std::chrono::milliseconds(4000));
  EXPECT_TRUE(ValidateServerConfig(*set).ok());
  // Below a few heartbeats, a slow poll would hand a live instance's vehicles over.
  auto short_expiry = ParseServerConfig(pg + "instance_expiry_ms = 1000\n", {});
  ASSERT_TRUE(short_expiry.ok());
  absl::Status s = ValidateServerConfig(*short_expiry);
  EXPECT_NE(s.message().find("store.instance_expiry_ms must be between 3000 and 600000"),
            std::string::npos)
      << s;
}

TEST(ServerConfigTest, ValidationRequiresTlsFilesUnlessInsecureDev) {
  auto c = ParseServerConfig("", {});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(ValidateServerConfig(*c).ok());
  c->server.insecure_dev = true;
  EXPECT_TRUE(ValidateServerConfig(*c).ok());
  c->server.telemetry_address = "no-port";
  EXPECT_FALSE(ValidateServerConfig(*c).ok());
}

// Issue 10, 4.9: every file the server reads (config, tokens, PEM) is a bounded regular file;
// a device such as /dev/zero was read until memory ran out.
TEST(ServerConfigTest, ConfigOrPemFileThatIsADeviceIsRefusedWithoutReadingIt) {
  auto config = LoadServerConfig("/dev/zero");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("/dev/zero: not a regular file"), std::string::npos)
      << config.status();
  auto pem = ReadTextFile("/dev/zero");
  EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerConfigTest, ExampleConfigInDeployParses) {
  auto c = LoadServerConfig(test::SourcePath("deploy/dispatch-server.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.ingest.max_pending_records_per_stream, 20000u);
  EXPECT_EQ(c->server.ingest.budget.max_records, IngestOptions{}.budget.max_records);
  EXPECT_EQ(c->server.ingest.max_commit_records, IngestOptions{}.max_commit_records);
  EXPECT_EQ(c->server.telemetry_memory_quota_bytes,
            DispatchServerOptions{}.telemetry_memory_quota_bytes);
  EXPECT_EQ(c->server.tls.ca_file.filename(), "ca.crt");
}

}  // namespace
}  // namespace cit::dispatch
