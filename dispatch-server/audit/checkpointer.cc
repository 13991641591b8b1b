#include "dispatch-server/audit/checkpointer.h"

#include <spdlog/spdlog.h>

#include <string>

namespace cit::dispatch {
namespace {

absl::Status Write(CheckpointLog* log, const std::string& reason, bool always) {
  absl::StatusOr<cit::v1::SignedCheckpoint> c =
      log->Append(reason, std::chrono::system_clock::now(), always);
  if (!c.ok()) {
    spdlog::error("event=checkpoint_failed reason={} error=\"{}\"", reason, c.status().ToString());
    return c.status();
  }
  if (c->checkpoint().checkpoint_id() != 0) {
    spdlog::info("event=checkpoint_signed id={} reason={} heads={} key_id={}",
                 c->checkpoint().checkpoint_id(), reason, c->checkpoint().heads_size(),
                 c->checkpoint().key_id());
  }
  return absl::OkStatus();
}

}  // namespace

Checkpointer::Checkpointer(CheckpointLog* log, std::chrono::milliseconds interval)
    : log_(log), interval_(interval) {}

Checkpointer::~Checkpointer() { Stop().IgnoreError(); }

absl::Status Checkpointer::Start() {
  if (absl::Status s = Write(log_, "startup", true); !s.ok()) return s;
  thread_ = std::thread([this] { Loop(); });
  started_ = true;
  return absl::OkStatus();
}

absl::Status Checkpointer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return absl::OkStatus();
    stopped_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!started_) return absl::OkStatus();
  return Write(log_, "shutdown", true);
}

void Checkpointer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    Write(log_, "interval", false).IgnoreError();  // logged; the next interval retries
    lock.lock();
  }
}

}  // namespace cit::dispatch
