#include "dispatch-server/http/http_config.h"

#include <fmt/format.h>

#include <cstdint>
#include <set>
#include <string>

namespace cit::dispatch {
namespace {

// Reads typed keys of one table and remembers which keys it knows, to refuse typos.
class HttpSection {
 public:
  explicit HttpSection(const toml::table* table) : table_(table) {}

  void String(const char* key, std::string* out) {
    known_.insert(key);
    const toml::node* n = Node(key);
    if (n == nullptr) return;
    if (auto v = n->value_exact<std::string>()) {
      *out = *v;
    } else {
      Fail(fmt::format("http.{} must be a string", key));
    }
  }

  void Path(const char* key, std::filesystem::path* out, const std::filesystem::path& base) {
    std::string s;
    bool present = Node(key) != nullptr;
    String(key, &s);
    if (!present || !error_.empty()) return;
    std::filesystem::path p(s);
    *out = p.is_relative() && !base.empty() && !s.empty() ? base / p : p;
  }

  template <typename T>
  void Positive(const char* key, T* out) {
    known_.insert(key);
    const toml::node* n = Node(key);
    if (n == nullptr) return;
    std::optional<int64_t> v = n->value_exact<int64_t>();
    if (!v || *v <= 0) {
      Fail(fmt::format("http.{} must be a positive integer", key));
      return;
    }
    if constexpr (std::is_same_v<T, std::chrono::seconds>) {
      *out = std::chrono::seconds(*v);
    } else {
      *out = static_cast<T>(*v);
    }
  }

  absl::Status Finish() {
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    if (table_ == nullptr) return absl::OkStatus();
    for (const auto& [k, v] : *table_) {
      if (known_.count(std::string(k.str())) == 0) {
        return absl::InvalidArgumentError(fmt::format("unknown key http.{}", k.str()));
      }
    }
    return absl::OkStatus();
  }

 private:
  const toml::node* Node(const char* key) const {
    return table_ == nullptr ? nullptr : table_->get(key);
  }
  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  const toml::table* table_;
  std::set<std::string> known_;
  std::string error_;
};

}  // namespace

absl::StatusOr<HttpOptions> HttpOptionsFromConfig(const toml::table& raw,
                                                  const std::filesystem::path& config_file,
                                                  const std::filesystem::path& tls_ca) {
  HttpOptions o;
  o.loopback_ca = tls_ca;
  const toml::node* node = raw.get("http");
  if (node != nullptr && node->as_table() == nullptr) {
    return absl::InvalidArgumentError("[http] must be a table");
  }
  const std::filesystem::path base = config_file.empty() ? "" : config_file.parent_path();
  HttpSection s(node == nullptr ? nullptr : node->as_table());
  s.String("listen", &o.listen);
  s.Path("assets_dir", &o.assets_dir, base);
  s.String("tile_url", &o.tile_url);
  s.String("tile_attribution", &o.tile_attribution);
  s.String("server_name", &o.server_name);
  s.Positive("session_ttl_s", &o.session_ttl);
  s.Positive("session_idle_s", &o.session_idle);
  s.Positive("max_sessions", &o.max_sessions);
  s.Positive("signin_max_failures", &o.signin_max_failures);
  s.Positive("signin_window_s", &o.signin_window);
  s.Positive("max_header_bytes", &o.max_header_bytes);
  s.Positive("max_body_bytes", &o.max_body_bytes);
  s.Positive("max_plan_body_bytes", &o.max_plan_body_bytes);
  s.Positive("header_timeout_s", &o.header_timeout);
  s.Positive("body_timeout_s", &o.body_timeout);
  s.Positive("write_timeout_s", &o.write_timeout);
  s.Positive("max_connections", &o.max_connections);
  s.Positive("threads", &o.threads);
  s.Positive("sse_keepalive_s", &o.sse_keepalive);
  s.Positive("sse_max_queued_bytes", &o.sse_max_queued_bytes);
  s.Path("loopback_ca", &o.loopback_ca, base);
  s.String("loopback_name", &o.loopback_name);
  s.Positive("call_timeout_s", &o.call_timeout);
  if (absl::Status st = s.Finish(); !st.ok()) return st;
  if (!o.tile_url.empty() && o.tile_url.rfind("https://", 0) != 0 &&
      o.tile_url.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError(
        "http.tile_url must start with https:// or http:// (a tile URL template such as "
        "https://tiles.example/{z}/{x}/{y}.png)");
  }
  return o;
}

}  // namespace cit::dispatch
