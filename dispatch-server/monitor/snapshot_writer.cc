#include "dispatch-server/monitor/snapshot_writer.h"

#include <utility>
#include <vector>

#include "spdlog/spdlog.h"

namespace cit::dispatch {

SnapshotWriter::SnapshotWriter(std::unique_ptr<SnapshotStore> store, const AlertManager* alerts)
    : store_(std::move(store)), alerts_(alerts), thread_([this] { Loop(); }) {}

SnapshotWriter::~SnapshotWriter() { Stop(); }

void SnapshotWriter::Post(StoredSnapshot snapshot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    ++posted_;
    auto [it, inserted] = queued_.try_emplace(snapshot.vehicle_id);
    if (!inserted) ++finished_;  // the older one is replaced, never stored
    it->second = std::move(snapshot);
  }
  cv_.notify_one();
}

void SnapshotWriter::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = posted_;
  done_cv_.wait(lock, [&] { return finished_ >= target || joined_; });
}

void SnapshotWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    joined_ = true;
  }
  done_cv_.notify_all();
}

void SnapshotWriter::Loop() {
  while (true) {
    std::vector<StoredSnapshot> batch;
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queued_.empty(); });
      stopping = stop_;
      for (auto& [vehicle, s] : queued_) batch.push_back(std::move(s));
      queued_.clear();
    }
    if (!batch.empty()) {
      // Every alert event the snapshots reflect must be stored before they are.
      absl::Status s = alerts_->WaitStored();
      if (s.ok()) s = store_->Put(batch);
      if (s.ok()) {
        written_ += batch.size();
      } else {
        dropped_ += batch.size();
        spdlog::warn("event=snapshot_write_failed snapshots={} error=\"{}\"", batch.size(),
                     s.ToString());
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        finished_ += batch.size();
      }
      done_cv_.notify_all();
    }
    if (stopping) return;
  }
}

}  // namespace cit::dispatch
