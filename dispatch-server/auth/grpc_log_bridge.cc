#include "dispatch-server/auth/grpc_log_bridge.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <string_view>

namespace cit::dispatch {
namespace {

struct Bridge {
  std::shared_ptr<MetricsRegistry> metrics;  // keeps `failures` alive
  Counter* failures = nullptr;
  std::unique_ptr<RefusalLog> log;
};

// Never destroyed: gRPC threads may still log while the process exits.
std::mutex& BridgeMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::shared_ptr<Bridge>& BridgeSlot() {  // guarded by BridgeMutex()
  static auto* slot = new std::shared_ptr<Bridge>;
  return *slot;
}

std::shared_ptr<Bridge> Current() {
  std::lock_guard<std::mutex> lock(BridgeMutex());
  return BridgeSlot();
}

void OnGrpcLog(gpr_log_func_args* args) {
  const std::string_view message = args->message != nullptr ? args->message : "";
  std::shared_ptr<Bridge> b = Current();
  if (b != nullptr && message.rfind("Handshake failed", 0) == 0) {
    b->failures->Increment();
    if (b->log->Admit("tls_handshake_failed")) {
      spdlog::warn("event=tls_handshake_failed detail=\"{}\"", message.substr(0, 200));
    }
    return;
  }
  const spdlog::level::level_enum level =
      args->severity == GPR_LOG_SEVERITY_ERROR  ? spdlog::level::err
      : args->severity == GPR_LOG_SEVERITY_INFO ? spdlog::level::info
                                                : spdlog::level::debug;
  spdlog::log(level, "event=grpc_log file={}:{} message=\"{}\"", args->file, args->line,
              message.substr(0, 500));
}

}  // namespace

void InstallGrpcLogBridge(std::shared_ptr<MetricsRegistry> metrics, RefusalLogOptions log_options) {
  auto b = std::make_shared<Bridge>();
  b->failures = &metrics->GetCounter(
      "cit_tls_handshake_failures_total",
      "TLS handshakes that failed on any port (foreign or expired client certificate, none, or "
      "not TLS at all), as reported by gRPC's log");
  b->metrics = std::move(metrics);
  b->log = std::make_unique<RefusalLog>("grpc_tls", log_options);
  {
    std::lock_guard<std::mutex> lock(BridgeMutex());
    BridgeSlot() = std::move(b);
  }
  gpr_set_log_function(&OnGrpcLog);
}

}  // namespace cit::dispatch
