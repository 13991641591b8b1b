#include "vehicle-agent/config.h"

#include <toml++/toml.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/toml_section.h"
#include "vehicle-agent/text_file.h"

namespace cit::agent {
namespace {

using config::TomlSection;

void GetPath(TomlSection& s, std::string_view key, std::filesystem::path& out) {
  std::string text = out.string();
  s.Get(key, &text);
  out = text;
}

absl::Status ReadJournal(TomlSection j, AgentConfig::Journal& out) {
  GetPath(j, "dir", out.dir);
  j.Get("max_bytes", &out.max_bytes);
  j.Get("segment_bytes", &out.segment_bytes);
  j.Get("fsync_interval_ms", &out.fsync_interval_ms);
  std::string fsync;
  j.Get("fsync", &fsync);
  if (absl::Status s = j.Finish(); !s.ok() || !j.Has("fsync")) return s;
  if (fsync == "always") {
    out.fsync = FsyncPolicy::kAlways;
  } else if (fsync == "interval" || fsync == "batch") {
    out.fsync = FsyncPolicy::kInterval;
  } else if (fsync == "none") {
    out.fsync = FsyncPolicy::kNone;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("journal.fsync must be always, interval or none, not '", fsync, "'"));
  }
  return absl::OkStatus();
}

absl::Status ReadGps(TomlSection g, AgentConfig::Gps& out) {
  g.Get("enabled", &out.enabled);
  g.Get("host", &out.host);
  // A port is a number or a service name: both spellings are accepted.
  if (const toml::node* port = g.Take("port")) {
    if (auto number = port->value_exact<int64_t>(); number && *number > 0 && *number < 65536) {
      out.port = std::to_string(*number);
    } else if (auto name = port->value_exact<std::string>()) {
      out.port = *name;
    } else {
      g.Fail("gps.port must be a port number (1-65535) or a service name");
    }
  }
  g.Get("reconnect_min_ms", &out.reconnect_min_ms);
  g.Get("reconnect_max_ms", &out.reconnect_max_ms);
  g.Get("fix_timeout_s", &out.fix_timeout_s);
  g.Get("max_clock_skew_s", &out.max_clock_skew_s);
  return g.Finish();
}

absl::StatusOr<GpioInputConfig> ReadGpioInput(TomlSection e) {
  GpioInputConfig in;
  std::string kind = "door";
  e.Get("kind", &kind);
  if (kind == "door") {
    in.kind = GpioInputConfig::Kind::kDoor;
  } else if (kind == "seal") {
    in.kind = GpioInputConfig::Kind::kSeal;
  } else if (kind == "panic") {
    in.kind = GpioInputConfig::Kind::kPanic;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("sensors.gpio.kind must be door, seal or panic, not '", kind, "'"));
  }
  if (!e.Has("line")) return absl::InvalidArgumentError("sensors.gpio needs `line`");
  e.Get("number", &in.number);
  e.Get("chip", &in.chip);
  e.Get("line", &in.line);
  e.Get("active_low", &in.active_low);
  e.Get("debounce_ms", &in.debounce_ms);
  if (absl::Status s = e.Finish(); !s.ok()) return s;
  return in;
}

absl::Status ReadSensors(TomlSection s, AgentConfig::Sensors& out) {
  GetPath(s, "socket_path", out.socket_path);
  s.Get("socket_mode", &out.socket_mode);
  if (const toml::node* gpio = s.Take("gpio")) {
    const toml::array* entries = gpio->as_array();
    if (entries == nullptr)
      return absl::InvalidArgumentError("sensors.gpio must be [[sensors.gpio]] tables");
    for (const toml::node& n : *entries) {
      const toml::table* t = n.as_table();
      if (t == nullptr) return absl::InvalidArgumentError("sensors.gpio entries must be tables");
      absl::StatusOr<GpioInputConfig> in = ReadGpioInput(TomlSection(t, "sensors.gpio"));
      if (!in.ok()) return in.status();
      out.gpio.push_back(*in);
    }
  }
  return s.Finish();
}

// uplink.server = "host:port", or uplink.servers = ["host:port", ...] for several instances.
void ReadServers(TomlSection& u, std::vector<std::string>& out) {
  if (u.Has("server") && u.Has("servers")) {
    return u.Fail("give either uplink.server (one address) or uplink.servers (a list), not both");
  }
  if (u.Has("server")) {
    std::string one;
    u.Get("server", &one);
    out = {one};
    return;
  }
  const toml::node* n = u.Take("servers");
  if (n == nullptr) return;
  const toml::array* list = n->as_array();
  if (list == nullptr) return u.Fail("uplink.servers must be a list of \"host:port\" strings");
  out.clear();
  for (const toml::node& e : *list) {
    std::optional<std::string> address = e.value_exact<std::string>();
    if (!address) return u.Fail("uplink.servers must be a list of \"host:port\" strings");
    out.push_back(*address);
  }
}

absl::Status ReadUplink(TomlSection u, AgentConfig::Uplink& out) {
  ReadServers(u, out.servers);
  GetPath(u, "ca_file", out.ca_file);
  GetPath(u, "cert_file", out.cert_file);
  GetPath(u, "key_file", out.key_file);
  u.Get("tls_server_name", &out.tls_server_name);
  u.Get("insecure", &out.insecure);
  u.Get("batch_max_records", &out.batch_max_records);
  u.Get("max_inflight_records", &out.max_inflight_records);
  u.Get("backoff_initial_ms", &out.backoff_initial_ms);
  u.Get("backoff_max_ms", &out.backoff_max_ms);
  u.Get("keepalive_time_ms", &out.keepalive_time_ms);
  u.Get("keepalive_timeout_ms", &out.keepalive_timeout_ms);
  u.Get("connect_timeout_ms", &out.connect_timeout_ms);
  return u.Finish();
}

}  // namespace

absl::StatusOr<AgentConfig> ParseConfig(const std::string& toml_text,
                                        const std::string& source_name) {
  toml::table tbl;
  try {
    tbl = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << e;
    return absl::InvalidArgumentError(msg.str());
  }
  AgentConfig c;
  TomlSection root(&tbl, "");
  root.Get("vehicle_id", &c.vehicle_id);
  root.Get("heartbeat_interval_s", &c.heartbeat_interval_s);
  root.Get("log_level", &c.log_level);
  for (absl::Status s :
       {ReadJournal(root.Sub("journal"), c.journal), ReadGps(root.Sub("gps"), c.gps),
        ReadSensors(root.Sub("sensors"), c.sensors), ReadUplink(root.Sub("uplink"), c.uplink),
        root.Finish()}) {
    if (!s.ok()) return s;
  }
  return c;
}

absl::StatusOr<AgentConfig> LoadConfigFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path, "config");
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path.string());
}

absl::Status ValidateServers(const std::vector<std::string>& servers) {
  if (servers.empty()) {
    return absl::InvalidArgumentError(
        "uplink.servers is empty: give the dispatch-server telemetry address (host:port)");
  }
  if (servers.size() > kMaxUplinkServers) {
    return absl::InvalidArgumentError(absl::StrCat("uplink.servers has ", servers.size(),
                                                   " addresses; at most ", kMaxUplinkServers));
  }
  for (const std::string& a : servers) {
    if (a.empty() || a.find_first_of(" ,") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "uplink server address \"", a, "\" is not host:port (e.g. dispatch.example.org:7443)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const AgentConfig& c) {
  if (c.vehicle_id.empty()) return absl::InvalidArgumentError("vehicle_id is empty");
  if (c.journal.dir.empty()) return absl::InvalidArgumentError("journal.dir is empty");
  if (c.journal.segment_bytes < 4096 || c.journal.max_bytes < 2 * c.journal.segment_bytes) {
    return absl::InvalidArgumentError(
        "journal.segment_bytes must be >= 4096 and journal.max_bytes >= 2 segments");
  }
  if (absl::Status s = ValidateServers(c.uplink.servers); !s.ok()) return s;
  if (c.uplink.batch_max_records == 0 || c.uplink.max_inflight_records == 0) {
    return absl::InvalidArgumentError("uplink batch/inflight limits must be > 0");
  }
  if (c.uplink.backoff_initial_ms == 0 || c.uplink.backoff_max_ms < c.uplink.backoff_initial_ms) {
    return absl::InvalidArgumentError("uplink backoff: 0 < initial <= max");
  }
  if (!c.uplink.insecure) {
    for (const auto* p : {&c.uplink.ca_file, &c.uplink.cert_file, &c.uplink.key_file}) {
      if (p->empty()) {
        return absl::InvalidArgumentError(
            "uplink.ca_file, cert_file and key_file are required unless uplink.insecure");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace cit::agent
