#include "dispatch-server/config/config.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/toml_section.h"
#include "dispatch-server/common/host_port.h"
#include "dispatch-server/common/text_file.h"
#include "dispatch-server/ingest/record_validator.h"

namespace cit::dispatch {
namespace {

using Section = config::TomlSection;

// [store] instance: shown in logs and stored as a vehicle's owner.
bool IsInstanceName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '_' || ch == '-';
  });
}

// A file path relative to the config file's directory.
void GetPath(Section& s, std::string_view key, std::filesystem::path* out,
             const std::filesystem::path& base) {
  std::string text;
  if (!s.Has(key)) {
    s.Take(key);  // claimed; the default stays
    return;
  }
  s.Get(key, &text);
  const std::filesystem::path p(text);
  *out = p.is_relative() && !base.empty() ? base / p : p;
}

template <typename Rep, typename Period>
void GetMs(Section& s, const std::string& key, std::chrono::duration<Rep, Period>* out) {
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(*out).count();
  s.Get(key, &ms);
  *out =
      std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(std::chrono::milliseconds(ms));
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerConfig(std::string_view toml_text,
                                               const std::filesystem::path& base_dir) {
  ServerConfig c;
  try {
    c.raw = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        fmt::format("config line {}: {}", e.source().begin.line, e.description()));
  }
  DispatchServerOptions& o = c.server;
  IngestOptions& in = o.ingest;

  Section telemetry = Section::In(c.raw, "telemetry");
  telemetry.Get("listen", &o.telemetry_address);
  telemetry.Get("max_message_bytes", &o.max_receive_message_bytes);
  telemetry.Get("max_connections", &o.telemetry_max_connections);
  telemetry.Get("memory_quota_bytes", &o.telemetry_memory_quota_bytes);
  telemetry.Get("stream_window_bytes", &o.telemetry_stream_window_bytes);
  telemetry.Get("tls_frame_bytes", &o.telemetry_tls_frame_bytes);

  Section op = Section::In(c.raw, "operator");
  op.Get("listen", &o.operator_address);
  op.Get("max_connections", &o.operator_max_connections);

  Section metrics = Section::In(c.raw, "metrics");
  metrics.Get("listen", &o.metrics_address);

  Section tls = Section::In(c.raw, "tls");
  GetPath(tls, "ca", &o.tls.ca_file, base_dir);
  GetPath(tls, "cert", &o.tls.cert_file, base_dir);
  GetPath(tls, "key", &o.tls.key_file, base_dir);
  tls.Get("insecure_dev", &o.insecure_dev);

  Section store = Section::In(c.raw, "store");
  GetPath(store, "path", &o.database_path, base_dir);
  std::string durability = o.durability == sqlite::Durability::kFull ? "full" : "normal";
  store.Get("durability", &durability);
  store.Get("reject_samples_per_reason", &o.reject_samples_per_reason);
  store.Get("snapshot_interval_s", &o.monitor_snapshot_interval_s);
  std::string backend =
      o.store_backend == DispatchServerOptions::StoreBackend::kPostgresql ? "postgresql" : "sqlite";
  store.Get("backend", &backend);
  store.Get("connection", &o.postgres_connection);
  store.Get("pool_size", &o.postgres_pool_size);
  store.Get("instance", &o.postgres_instance);
  GetMs(store, "alert_follow_ms", &o.alert_follow_interval);
  GetMs(store, "plan_follow_ms", &o.plan_follow_interval);
  GetMs(store, "escalation_lease_ms", &o.escalation_lease);
  GetMs(store, "instance_expiry_ms", &o.instance_expiry);

  Section ingest = Section::In(c.raw, "ingest");
  GetMs(ingest, "group_commit_ms", &in.group_commit_delay);
  ingest.Get("group_commit_records", &in.group_commit_records);
  ingest.Get("max_batch_records", &in.max_batch_records);
  ingest.Get("max_batch_bytes", &in.max_batch_bytes);
  ingest.Get("max_pending_records_per_stream", &in.max_pending_records_per_stream);
  ingest.Get("max_inflight_records", &in.budget.max_records);
  ingest.Get("max_inflight_bytes", &in.budget.max_bytes);
  ingest.Get("inflight_reserve_records", &in.budget.reserve_records);
  ingest.Get("inflight_reserve_bytes", &in.budget.reserve_bytes);
  ingest.Get("max_commit_records", &in.max_commit_records);
  ingest.Get("min_event_time_unix_s", &in.limits.min_event_time_unix_s);
  int64_t max_future_s = in.limits.max_future.count();
  ingest.Get("max_future_s", &max_future_s);
  in.limits.max_future = std::chrono::seconds(max_future_s);
  GetMs(ingest, "drain_timeout_ms", &in.drain_timeout);

  Section server = Section::In(c.raw, "server");
  GetMs(server, "shutdown_grace_ms", &o.shutdown_grace);
  GetMs(server, "keepalive_time_ms", &o.keepalive_time);
  GetMs(server, "keepalive_timeout_ms", &o.keepalive_timeout);
  GetMs(server, "min_client_ping_interval_ms", &o.min_client_ping_interval);
  server.Get("memory_limit_bytes", &o.memory_limit_bytes);

  Section log = Section::In(c.raw, "log");
  log.Get("level", &c.log_level);

  Section plans = Section::In(c.raw, "plans");
  plans.Get("require_stop_windows", &o.require_stop_windows);

  for (Section* s : {&telemetry, &op, &metrics, &tls, &store, &ingest, &server, &log, &plans}) {
    if (absl::Status st = s->Finish(); !st.ok()) return st;
  }
  if (durability == "full") {
    o.durability = sqlite::Durability::kFull;
  } else if (durability == "normal") {
    o.durability = sqlite::Durability::kNormal;
  } else {
    return absl::InvalidArgumentError("store.durability must be \"full\" or \"normal\"");
  }
  if (backend == "sqlite") {
    o.store_backend = DispatchServerOptions::StoreBackend::kSqlite;
  } else if (backend == "postgresql") {
    o.store_backend = DispatchServerOptions::StoreBackend::kPostgresql;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("store.backend must be \"sqlite\" or \"postgresql\", not \"{}\"", backend));
  }
  return c;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::filesystem::path& file) {
  if (file.empty()) return ParseServerConfig("", {});
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return absl::NotFoundError(absl::StrCat("config file not found: ", file.string()));
  }
  absl::StatusOr<std::string> text = ReadTextFile(file);
  if (!text.ok()) return text.status();
  absl::StatusOr<ServerConfig> c = ParseServerConfig(*text, file.parent_path());
  if (!c.ok())
    return absl::Status(c.status().code(), absl::StrCat(file.string(), ": ", c.status().message()));
  c->source = file;
  return c;
}

absl::Status ValidateServerConfig(const ServerConfig& c) {
  const DispatchServerOptions& o = c.server;
  std::string host;
  int port = 0;
  if (!SplitHostPort(o.telemetry_address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry.listen '", o.telemetry_address, "' is not host:port"));
  }
  if (!SplitHostPort(o.operator_address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("operator.listen '", o.operator_address, "' is not host:port"));
  }
  if (o.telemetry_max_connections < 1 || o.operator_max_connections < 1) {
    return absl::InvalidArgumentError(
        "telemetry.max_connections and operator.max_connections must be at least 1");
  }
  if (!o.metrics_address.empty() && !SplitHostPort(o.metrics_address, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("metrics.listen '", o.metrics_address,
                                                   "' is not host:port (or \"\" to disable)"));
  }
  if (!o.insecure_dev) {
    for (const auto& [key, path] :
         {std::pair{"tls.ca", o.tls.ca_file}, std::pair{"tls.cert", o.tls.cert_file},
          std::pair{"tls.key", o.tls.key_file}}) {
      if (path.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, " is required (or set tls.insecure_dev = true for development)"));
      }
      absl::StatusOr<std::string> text = ReadTextFile(path);
      if (!text.ok())
        return absl::InvalidArgumentError(absl::StrCat(key, ": ", text.status().message()));
      if (text->find("-----BEGIN") == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": ", path.string(), " is not PEM"));
      }
    }
  }
  if (o.database_path.empty()) return absl::InvalidArgumentError("store.path is required");
  if (o.store_backend == DispatchServerOptions::StoreBackend::kPostgresql) {
    if (o.postgres_connection.empty()) {
      return absl::InvalidArgumentError(
          "store.connection is required with store.backend = \"postgresql\" (a libpq "
          "connection string, e.g. \"host=db1 port=5432 dbname=citwatch user=dispatch\")");
    }
    if (o.alert_follow_interval < std::chrono::milliseconds(1) ||
        o.alert_follow_interval > std::chrono::milliseconds(60'000)) {
      return absl::InvalidArgumentError(
          "store.alert_follow_ms must be between 1 and 60000 (default 200)");
    }
    if (o.plan_follow_interval < std::chrono::milliseconds(1) ||
        o.plan_follow_interval > std::chrono::milliseconds(60'000)) {
      return absl::InvalidArgumentError(
          "store.plan_follow_ms must be between 1 and 60000 (default 200)");
    }
    if (o.escalation_lease < std::chrono::milliseconds(300) ||
        o.escalation_lease > std::chrono::milliseconds(600'000)) {
      return absl::InvalidArgumentError(
          "store.escalation_lease_ms must be between 300 and 600000 (default 5000)");
    }
    if (o.instance_expiry < std::chrono::milliseconds(3'000) ||
        o.instance_expiry > std::chrono::milliseconds(600'000)) {
      return absl::InvalidArgumentError(
          "store.instance_expiry_ms must be between 3000 and 600000 (default 10000): several "
          "heartbeats (one a second), so a slow poll does not hand an instance's vehicles over");
    }
    if (o.postgres_pool_size < 1 || o.postgres_pool_size > 64) {
      return absl::InvalidArgumentError("store.pool_size must be between 1 and 64");
    }
    if (!o.postgres_instance.empty() && !IsInstanceName(o.postgres_instance)) {
      return absl::InvalidArgumentError(fmt::format(
          "store.instance \"{}\" must be 1-64 characters of letters, digits, '.', '_' or '-', "
          "unique among the instances sharing the database (e.g. \"dispatch-a\")",
          o.postgres_instance));
    }
  } else if (!o.postgres_instance.empty()) {
    return absl::InvalidArgumentError(
        "store.instance is set but store.backend is \"sqlite\": several instances share only a "
        "PostgreSQL database; set backend = \"postgresql\" or remove instance");
  } else if (!o.postgres_connection.empty()) {
    return absl::InvalidArgumentError(
        "store.connection is set but store.backend is \"sqlite\": set backend = \"postgresql\" "
        "or remove connection");
  }
  if (!std::isfinite(o.monitor_snapshot_interval_s) || o.monitor_snapshot_interval_s < 0) {
    return absl::InvalidArgumentError(
        "store.snapshot_interval_s must be a number of seconds >= 0 (0 disables snapshots)");
  }
  const IngestOptions& in = o.ingest;
  if (in.max_batch_records == 0)
    return absl::InvalidArgumentError("ingest.max_batch_records must be > 0");
  if (in.group_commit_records == 0) {
    return absl::InvalidArgumentError("ingest.group_commit_records must be > 0");
  }
  if (in.max_commit_records == 0) {
    return absl::InvalidArgumentError("ingest.max_commit_records must be > 0");
  }
  if (in.budget.max_records < in.max_batch_records || in.budget.max_bytes < in.max_batch_bytes) {
    return absl::InvalidArgumentError(
        "ingest.max_inflight_records and ingest.max_inflight_bytes must hold at least one "
        "batch (ingest.max_batch_records, ingest.max_batch_bytes)");
  }
  if (o.telemetry_stream_window_bytes < 0) {
    return absl::InvalidArgumentError(
        "telemetry.stream_window_bytes must be >= 0 (0 = gRPC's defaults)");
  }
  if (o.telemetry_tls_frame_bytes != 0 &&
      (o.telemetry_tls_frame_bytes < 1024 || o.telemetry_tls_frame_bytes > 16384)) {
    return absl::InvalidArgumentError(
        "telemetry.tls_frame_bytes must be 0 (gRPC's default) or within 1024..16384");
  }
  if (o.memory_limit_bytes < 0) {
    return absl::InvalidArgumentError("server.memory_limit_bytes must be >= 0 (0 = no bound)");
  }
  if (o.telemetry_memory_quota_bytes < 0) {
    return absl::InvalidArgumentError(
        "telemetry.memory_quota_bytes must be >= 0 (0 = gRPC's default, unbounded)");
  }
  if (in.group_commit_delay > std::chrono::milliseconds(50)) {
    spdlog::warn("event=config_warning note=\"ingest.group_commit_ms above 50 delays every ack\"");
  }
  if (in.max_batch_bytes > static_cast<size_t>(o.max_receive_message_bytes)) {
    return absl::InvalidArgumentError(
        "ingest.max_batch_bytes must not exceed telemetry.max_message_bytes");
  }
  if (spdlog::level::from_str(c.log_level) == spdlog::level::off && c.log_level != "off") {
    return absl::InvalidArgumentError(absl::StrCat("log.level '", c.log_level, "' is not a level"));
  }
  return absl::OkStatus();
}

}  // namespace cit::dispatch
