// vehicle-agent: gpsd + door/seal/panic/crew inputs -> durable journal -> dispatch-server.
// Parses flags and the TOML config, then runs cit::agent::Agent until SIGTERM.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"
#include "vehicle-agent/agent.h"
#include "vehicle-agent/config.h"

namespace {

// glibc malloc tuned for a small, long-running process (DESIGN §12: < 10 MB RSS), set before
// gRPC starts its threads. Measured with bench/agent_soak.sh: -0.35 MB RSS at 1 Hz; the 24-hour
// backlog still drains in 2-3 s (bench/agent_drain.sh, within the noise of a build without these
// settings on the shared test machine). Figures in docs/benchmarks.md, "Agent".
void TuneMalloc() {
  // One arena: otherwise each of gRPC's ~8 threads gets its own (a 132 kB heap each, partly
  // touched and fragmented). The agent allocates little and seldom; contention is negligible.
  mallopt(M_ARENA_MAX, 1);
  // Fixed thresholds switch off glibc's dynamic mmap threshold, which after the first large
  // free (a gRPC read buffer or a journal batch during a backlog drain) rises up to 32 MB and
  // keeps such buffers, and the heap top above them, resident for good. Blocks of 64 kB and more
  // are mmap()ed and returned on free; free heap top beyond 64 kB is given back.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024);
  mallopt(M_TOP_PAD, 0);
}

}  // namespace

int main(int argc, char** argv) {
  TuneMalloc();
  CLI::App app{
      "vehicle-agent: records GNSS fixes (gpsd) and door/seal/panic/crew inputs in a durable "
      "journal and streams them to dispatch-server over mTLS gRPC. Every key has a default; a "
      "TOML file (--config) overrides defaults, flags override the file."};
  std::string config_path;
  std::string vehicle_id, journal_dir, server, gpsd, sensor_socket, log_level, ca, cert, key,
      tls_name;
  bool insecure = false, check_config = false, no_gps = false;
  app.add_option("-c,--config", config_path, "TOML config file (see deploy/vehicle-agent.toml)");
  app.add_option("--vehicle-id", vehicle_id, "vehicle id; must match the certificate's CN/SAN");
  app.add_option("--journal-dir", journal_dir, "journal directory (journal.dir)");
  app.add_option("--server", server,
                 "dispatch-server telemetry address host:port; several, comma-separated, for "
                 "instances sharing one database, tried in turn (uplink.server / uplink.servers)");
  app.add_option("--gpsd", gpsd, "gpsd host:port (gps.host, gps.port)");
  app.add_flag("--no-gps", no_gps, "do not connect to gpsd (gps.enabled = false)");
  app.add_option("--sensor-socket", sensor_socket,
                 "Unix socket for the sensor line protocol; '' disables (sensors.socket_path)");
  app.add_option("--ca", ca, "fleet CA certificate (uplink.ca_file)");
  app.add_option("--cert", cert, "vehicle certificate (uplink.cert_file)");
  app.add_option("--key", key, "vehicle private key (uplink.key_file)");
  app.add_option("--tls-server-name", tls_name, "name to verify in the server certificate");
  app.add_flag("--insecure", insecure, "plaintext uplink, development only (uplink.insecure)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (log_level)");
  app.add_flag("--check-config", check_config, "validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  cit::agent::AgentConfig cfg;
  if (!config_path.empty()) {
    absl::StatusOr<cit::agent::AgentConfig> loaded = cit::agent::LoadConfigFile(config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "vehicle-agent: %s\n", loaded.status().ToString().c_str());
      return 2;
    }
    cfg = *loaded;
  }
  if (!vehicle_id.empty()) cfg.vehicle_id = vehicle_id;
  if (!journal_dir.empty()) cfg.journal.dir = journal_dir;
  if (!server.empty()) cfg.uplink.servers = absl::StrSplit(server, ',');
  if (!gpsd.empty()) {
    const auto colon = gpsd.rfind(':');
    cfg.gps.host = gpsd.substr(0, colon);
    if (colon != std::string::npos) cfg.gps.port = gpsd.substr(colon + 1);
  }
  if (no_gps) cfg.gps.enabled = false;
  if (app.count("--sensor-socket") > 0) cfg.sensors.socket_path = sensor_socket;
  if (!ca.empty()) cfg.uplink.ca_file = ca;
  if (!cert.empty()) cfg.uplink.cert_file = cert;
  if (!key.empty()) cfg.uplink.key_file = key;
  if (!tls_name.empty()) cfg.uplink.tls_server_name = tls_name;
  if (insecure) cfg.uplink.insecure = true;
  if (!log_level.empty()) cfg.log_level = log_level;

  if (absl::Status s = cit::agent::ValidateConfig(cfg); !s.ok()) {
    std::fprintf(stderr, "vehicle-agent: invalid config: %s\n", s.ToString().c_str());
    return 2;
  }
  if (check_config) {
    std::printf("vehicle-agent: config ok\n");
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);

  cit::agent::Agent agent(cfg);
  if (absl::Status s = agent.Run(); !s.ok()) {
    spdlog::critical("vehicle-agent: {}", s.ToString());
    return 1;
  }
  return 0;
}
