#include "vehicle-agent/config.h"

#include <toml++/toml.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "vehicle-agent/text_file.h"

namespace cit::agent {
namespace {

template <typename T>
void Get(const toml::node_view<const toml::node>& node, T& out) {
  if (auto v = node.value<T>()) out = *v;
}

void GetU32(const toml::node_view<const toml::node>& node, uint32_t& out) {
  if (auto v = node.value<int64_t>()) out = static_cast<uint32_t>(*v);
}

void GetU64(const toml::node_view<const toml::node>& node, uint64_t& out) {
  if (auto v = node.value<int64_t>()) out = static_cast<uint64_t>(*v);
}

void GetPath(const toml::node_view<const toml::node>& node, std::filesystem::path& out) {
  if (auto v = node.value<std::string>()) out = *v;
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
  const toml::node_view<const toml::node> root{static_cast<const toml::node&>(tbl)};
  AgentConfig c;
  Get(root["vehicle_id"], c.vehicle_id);
  GetU32(root["heartbeat_interval_s"], c.heartbeat_interval_s);
  Get(root["log_level"], c.log_level);

  auto j = root["journal"];
  GetPath(j["dir"], c.journal.dir);
  GetU64(j["max_bytes"], c.journal.max_bytes);
  GetU64(j["segment_bytes"], c.journal.segment_bytes);
  GetU32(j["fsync_interval_ms"], c.journal.fsync_interval_ms);
  if (auto f = j["fsync"].value<std::string>()) {
    if (*f == "always") {
      c.journal.fsync = FsyncPolicy::kAlways;
    } else if (*f == "interval" || *f == "batch") {
      c.journal.fsync = FsyncPolicy::kInterval;
    } else if (*f == "none") {
      c.journal.fsync = FsyncPolicy::kNone;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("journal.fsync must be always, interval or none, not '", *f, "'"));
    }
  }

  auto g = root["gps"];
  Get(g["enabled"], c.gps.enabled);
  Get(g["host"], c.gps.host);
  if (auto p = g["port"].value<int64_t>()) c.gps.port = std::to_string(*p);
  Get(g["port"], c.gps.port);
  GetU32(g["reconnect_min_ms"], c.gps.reconnect_min_ms);
  GetU32(g["reconnect_max_ms"], c.gps.reconnect_max_ms);
  GetU32(g["fix_timeout_s"], c.gps.fix_timeout_s);
  GetU32(g["max_clock_skew_s"], c.gps.max_clock_skew_s);

  auto s = root["sensors"];
  GetPath(s["socket_path"], c.sensors.socket_path);
  GetU32(s["socket_mode"], c.sensors.socket_mode);
  if (const toml::array* arr = s["gpio"].as_array()) {
    for (const toml::node& n : *arr) {
      const toml::table* t = n.as_table();
      if (t == nullptr) return absl::InvalidArgumentError("sensors.gpio entries must be tables");
      const toml::node_view<const toml::node> e{static_cast<const toml::node&>(*t)};
      GpioInputConfig in;
      const std::string kind = e["kind"].value_or(std::string("door"));
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
      GetU32(e["number"], in.number);
      Get(e["chip"], in.chip);
      if (!e["line"].is_integer()) return absl::InvalidArgumentError("sensors.gpio needs `line`");
      GetU32(e["line"], in.line);
      Get(e["active_low"], in.active_low);
      GetU32(e["debounce_ms"], in.debounce_ms);
      c.sensors.gpio.push_back(in);
    }
  }

  auto u = root["uplink"];
  Get(u["server"], c.uplink.server);
  GetPath(u["ca_file"], c.uplink.ca_file);
  GetPath(u["cert_file"], c.uplink.cert_file);
  GetPath(u["key_file"], c.uplink.key_file);
  Get(u["tls_server_name"], c.uplink.tls_server_name);
  Get(u["insecure"], c.uplink.insecure);
  GetU32(u["batch_max_records"], c.uplink.batch_max_records);
  GetU32(u["max_inflight_records"], c.uplink.max_inflight_records);
  GetU32(u["backoff_initial_ms"], c.uplink.backoff_initial_ms);
  GetU32(u["backoff_max_ms"], c.uplink.backoff_max_ms);
  GetU32(u["keepalive_time_ms"], c.uplink.keepalive_time_ms);
  GetU32(u["keepalive_timeout_ms"], c.uplink.keepalive_timeout_ms);
  GetU32(u["connect_timeout_ms"], c.uplink.connect_timeout_ms);
  return c;
}

absl::StatusOr<AgentConfig> LoadConfigFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path, "config");
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path.string());
}

absl::Status ValidateConfig(const AgentConfig& c) {
  if (c.vehicle_id.empty()) return absl::InvalidArgumentError("vehicle_id is empty");
  if (c.journal.dir.empty()) return absl::InvalidArgumentError("journal.dir is empty");
  if (c.journal.segment_bytes < 4096 || c.journal.max_bytes < 2 * c.journal.segment_bytes) {
    return absl::InvalidArgumentError(
        "journal.segment_bytes must be >= 4096 and journal.max_bytes >= 2 segments");
  }
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
