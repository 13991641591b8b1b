// dispatch-server: ingests every vehicle's telemetry exactly once into the store and serves
// operators. Thin main (STYLE §1): flags and config into ServerAssemblyOptions, then
// server/server_assembly.h assembles and runs everything until SIGTERM/SIGINT.
//
//   dispatch-server --config /etc/citwatch/dispatch-server.toml
//   dispatch-server --insecure-dev --database /tmp/dev.db      # plaintext, development only
//   dispatch-server --config FILE --check-config               # validate and exit
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "dispatch-server/auth/auth_config.h"
#include "dispatch-server/config/config.h"
#include "dispatch-server/http/http_config.h"
#include "dispatch-server/monitor/rule_policy_config.h"
#include "dispatch-server/notify/notify_config.h"
#include "dispatch-server/server/server_assembly.h"

namespace {

template <typename T>
void Override(const std::optional<T>& flag, T* target) {
  if (flag.has_value()) *target = *flag;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals in every thread (threads inherit the mask); main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  CLI::App app{
      "dispatch-server: citwatch telemetry ingest (exactly-once into SQLite), run monitoring and "
      "the operator API.\nEvery option has a default; --config FILE sets them from TOML "
      "(deploy/dispatch-server.toml documents each key) and flags override the file."};
  std::string config_file;
  bool check_config = false;
  std::optional<std::string> telemetry_listen, operator_listen, metrics_listen, http_listen, tls_ca,
      tls_cert, tls_key, database, log_level;
  std::optional<int64_t> group_commit_ms;
  std::optional<uint32_t> max_batch_records;
  bool insecure_dev = false;
  app.add_option("-c,--config", config_file, "TOML config file (default: built-in defaults)");
  app.add_flag("--check-config", check_config,
               "Validate the configuration (values, TLS files) and exit: 0 if valid, 2 if not");
  app.add_option("--telemetry-listen", telemetry_listen,
                 "host:port for agents' Telemetry streams (mTLS) [telemetry.listen, 0.0.0.0:7443]");
  app.add_option("--operator-listen", operator_listen,
                 "host:port for the operator API (TLS + bearer tokens) [operator.listen, "
                 "127.0.0.1:7444]");
  app.add_option("--metrics-listen", metrics_listen,
                 "host:port for Prometheus /metrics and /healthz, \"\" disables [metrics.listen, "
                 "127.0.0.1:9464]");
  app.add_option("--http-listen", http_listen,
                 "host:port for the HTTP API and web console (HTTPS; plain HTTP with "
                 "--insecure-dev), \"\" disables [http.listen, 127.0.0.1:7445]");
  app.add_option("--tls-ca", tls_ca, "PEM fleet CA that signs vehicle certificates [tls.ca]");
  app.add_option("--tls-cert", tls_cert, "PEM server certificate [tls.cert]");
  app.add_option("--tls-key", tls_key, "PEM server private key [tls.key]");
  app.add_flag("--insecure-dev", insecure_dev,
               "Plaintext gRPC, no client certificates, vehicle id from Hello. Development only "
               "[tls.insecure_dev]");
  app.add_option("--database", database, "SQLite database file [store.path, dispatch.db]");
  app.add_option("--group-commit-ms", group_commit_ms,
                 "Longest a record waits for its group commit, ms [ingest.group_commit_ms, 50]");
  app.add_option("--max-batch-records", max_batch_records,
                 "Largest RecordBatch accepted [ingest.max_batch_records, 1000]");
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical, off [log.level, info]");
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<cit::dispatch::ServerConfig> config = cit::dispatch::LoadServerConfig(config_file);
  if (!config.ok()) {
    std::cerr << "dispatch-server: " << config.status().message() << "\n";
    return 2;
  }
  cit::dispatch::DispatchServerOptions& o = config->server;
  Override(telemetry_listen, &o.telemetry_address);
  Override(operator_listen, &o.operator_address);
  Override(metrics_listen, &o.metrics_address);
  if (tls_ca) o.tls.ca_file = *tls_ca;
  if (tls_cert) o.tls.cert_file = *tls_cert;
  if (tls_key) o.tls.key_file = *tls_key;
  if (insecure_dev) o.insecure_dev = true;
  if (database) o.database_path = *database;
  if (group_commit_ms) o.ingest.group_commit_delay = std::chrono::milliseconds(*group_commit_ms);
  Override(max_batch_records, &o.ingest.max_batch_records);
  Override(log_level, &config->log_level);

  if (absl::Status s = cit::dispatch::ValidateServerConfig(*config); !s.ok()) {
    std::cerr << "dispatch-server: invalid configuration: " << s.message() << "\n";
    return 2;
  }
  absl::StatusOr<cit::dispatch::HttpOptions> http_options =
      cit::dispatch::HttpOptionsFromConfig(config->raw, config->source, o.tls.ca_file);
  if (!http_options.ok()) {
    std::cerr << "dispatch-server: invalid configuration: " << http_options.status().message()
              << "\n";
    return 2;
  }
  Override(http_listen, &http_options->listen);
  absl::StatusOr<std::filesystem::path> tokens =
      cit::dispatch::OperatorTokensPath(config->raw, config->source);
  if (!tokens.ok()) {
    std::cerr << "dispatch-server: " << tokens.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<cit::dispatch::AuditOptions> audit_options =
      cit::dispatch::AuditOptionsFromConfig(config->raw, config->source);
  if (!audit_options.ok()) {
    std::cerr << "dispatch-server: invalid configuration: " << audit_options.status().message()
              << "\n";
    return 2;
  }
  absl::StatusOr<cit::dispatch::RulePolicy> rules =
      cit::dispatch::RulePolicyFromConfig(config->raw);
  if (!rules.ok()) {
    std::cerr << "dispatch-server: invalid configuration: " << rules.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<cit::dispatch::NotifyOptions> notify =
      cit::dispatch::NotifyOptionsFromConfig(config->raw, config->source);
  if (!notify.ok()) {
    std::cerr << "dispatch-server: invalid configuration: " << notify.status().message() << "\n";
    return 2;
  }
  cit::dispatch::ServerAssemblyOptions options;
  options.notify = *notify;
  options.rules = *rules;
  options.server = o;
  options.operator_tokens = *tokens;
  options.http = *http_options;
  options.audit = *audit_options;
  if (check_config) {
    std::cout << "dispatch-server: configuration OK"
              << (config->source.empty() ? " (defaults)" : " (" + config->source.string() + ")")
              << "\n";
    return 0;
  }

  // Structured logs: logfmt-style key=value lines, UTC timestamps.
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::flush_on(spdlog::level::info);

  cit::dispatch::SystemClock clock;
  absl::StatusOr<std::unique_ptr<cit::dispatch::ServerAssembly>> server =
      cit::dispatch::ServerAssembly::Start(std::move(options), &clock);
  if (!server.ok()) {
    spdlog::critical("event=start_failed error=\"{}\"", server.status().ToString());
    return 1;
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("event=signal_received signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Stop();
  server->reset();
  spdlog::info("event=exit code=0");
  return 0;
}
