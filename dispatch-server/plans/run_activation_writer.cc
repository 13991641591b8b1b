#include "dispatch-server/plans/run_activation_writer.h"

#include "spdlog/spdlog.h"

namespace cit::dispatch {

RunActivationWriter::RunActivationWriter(RunManager* runs)
    : runs_(runs), thread_([this] { Loop(); }) {}

RunActivationWriter::~RunActivationWriter() { Stop(); }

void RunActivationWriter::Post(std::string run_id, SysTime started) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(std::move(run_id), started);
  }
  cv_.notify_one();
}

void RunActivationWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RunActivationWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, everything written
    auto [run_id, started] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    absl::StatusOr<cit::v1::Run> run = runs_->MarkActive(run_id, started);
    if (!run.ok()) {
      spdlog::error("event=run_activation_not_stored run={} error=\"{}\"", run_id,
                    run.status().ToString());
    }
    lock.lock();
  }
}

}  // namespace cit::dispatch
