// vehicle-agent configuration: every key has a default; a TOML file overrides defaults and
// command-line flags override the file (DESIGN §10).
//
//   absl::StatusOr<cit::agent::AgentConfig> cfg = cit::agent::LoadConfigFile("agent.toml");
//   absl::StatusOr<cit::agent::AgentConfig> cfg2 = cit::agent::ParseConfig(toml_text);
//
// deploy/vehicle-agent.toml lists every key with its default and meaning. Unknown keys, wrong
// types and out-of-range integers are INVALID_ARGUMENT naming the key (common/toml_section.h).
//
// Thread contract: plain values; the functions are thread-safe.
#ifndef CIT_VEHICLE_AGENT_CONFIG_H_
#define CIT_VEHICLE_AGENT_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cit::agent {

enum class FsyncPolicy {
  kAlways,    // fdatasync after every record
  kInterval,  // fdatasync per batch, at most every fsync_interval_ms (default)
  kNone,      // never fsync (records sendable once written); a power cut may lose records
};

// One GPIO contact: door, seal or panic input.
struct GpioInputConfig {
  enum class Kind { kDoor, kSeal, kPanic };
  Kind kind = Kind::kDoor;
  uint32_t number = 1;  // door/seal number as wired (1-based); ignored for panic
  std::string chip = "gpiochip0";
  uint32_t line = 0;          // line offset on the chip
  bool active_low = true;     // contact closes to ground
  uint32_t debounce_ms = 50;  // level must be stable this long before it counts
};

struct AgentConfig {
  std::string vehicle_id = "vehicle-unset";
  uint32_t heartbeat_interval_s = 30;  // a Heartbeat record after this much silence
  std::string log_level = "info";

  struct Journal {
    std::filesystem::path dir = "/var/lib/vehicle-agent/journal";
    uint64_t max_bytes = 256ull << 20;
    uint64_t segment_bytes = 4ull << 20;
    FsyncPolicy fsync = FsyncPolicy::kInterval;
    uint32_t fsync_interval_ms = 200;
  } journal;

  struct Gps {
    bool enabled = true;
    std::string host = "localhost";
    std::string port = "2947";
    uint32_t reconnect_min_ms = 500;
    uint32_t reconnect_max_ms = 10000;
    // No usable fix for this long while gpsd is connected counts as "fix lost".
    uint32_t fix_timeout_s = 5;
    // Receiver time further than this from the agent's clock is suspect (week rollover).
    uint32_t max_clock_skew_s = 86400;
  } gps;

  struct Sensors {
    std::filesystem::path socket_path = "/run/vehicle-agent/sensors.sock";  // empty: disabled
    uint32_t socket_mode = 0660;
    std::vector<GpioInputConfig> gpio;
  } sensors;

  struct Uplink {
    // dispatch-server telemetry addresses (host:port), in order of preference. With several
    // (instances sharing one database), a stream that fails or cannot start moves on to the next;
    // the agent stays on the one that works.
    std::vector<std::string> servers = {"localhost:7443"};
    std::filesystem::path ca_file;    // fleet CA that signed the server certificate
    std::filesystem::path cert_file;  // this vehicle's certificate (CN/SAN = vehicle_id)
    std::filesystem::path key_file;
    std::string tls_server_name;  // overrides the name checked in the server certificate
    bool insecure = false;        // plaintext, development only
    uint32_t batch_max_records = 500;
    uint32_t max_inflight_records = 4000;  // sent but not yet acknowledged
    uint32_t backoff_initial_ms = 500;
    uint32_t backoff_max_ms = 10000;
    uint32_t keepalive_time_ms = 20000;
    uint32_t keepalive_timeout_ms = 10000;
    uint32_t connect_timeout_ms = 10000;  // Hello sent, no Welcome: give up the attempt
  } uplink;
};

// At most this many uplink.servers (a list, tried in turn, not a fleet directory).
inline constexpr size_t kMaxUplinkServers = 16;

absl::StatusOr<AgentConfig> ParseConfig(const std::string& toml_text,
                                        const std::string& source_name = "config");
absl::StatusOr<AgentConfig> LoadConfigFile(const std::filesystem::path& path);
// Checks values that parse but cannot work (e.g. zero batch size, TLS files missing).
absl::Status ValidateConfig(const AgentConfig& config);
// The uplink addresses: one to kMaxUplinkServers, each host:port without blanks or commas.
absl::Status ValidateServers(const std::vector<std::string>& servers);

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_CONFIG_H_
