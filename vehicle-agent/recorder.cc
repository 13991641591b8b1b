#include "vehicle-agent/recorder.h"

#include <time.h>

#include <boost/asio/post.hpp>

#include "spdlog/spdlog.h"

namespace cit::agent {

google::protobuf::Timestamp WallNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  google::protobuf::Timestamp t;
  t.set_seconds(ts.tv_sec);
  t.set_nanos(static_cast<int32_t>(ts.tv_nsec));
  return t;
}

int64_t MonotonicNowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Recorder::Recorder(boost::asio::io_context& io, Journal& journal, std::string vehicle_id,
                   FsyncPolicy policy, std::chrono::milliseconds fsync_interval)
    : io_(io),
      journal_(journal),
      vehicle_id_(std::move(vehicle_id)),
      policy_(policy),
      interval_(fsync_interval),
      sync_timer_(io) {}

absl::StatusOr<uint64_t> Recorder::Add(cit::v1::Record record) {
  record.set_vehicle_id(vehicle_id_);
  *record.mutable_agent_time() = WallNow();
  record.set_agent_monotonic_ns(MonotonicNowNs());
  record.set_agent_boot(journal_.boot());
  if (!record.has_event_time()) *record.mutable_event_time() = record.agent_time();
  absl::StatusOr<uint64_t> seq = journal_.Append(record);
  if (!seq.ok()) return seq;
  last_add_ = std::chrono::steady_clock::now();
  if (IsUrgent(record) && on_urgent_) on_urgent_(record);
  switch (policy_) {
    case FsyncPolicy::kAlways:
      SyncAndNotify();
      break;
    case FsyncPolicy::kNone:
      journal_.MarkWrittenDurable();
      if (on_durable_) boost::asio::post(io_, [this] { on_durable_(); });
      break;
    case FsyncPolicy::kInterval:
      if (!sync_pending_) {
        // One fsync per batch: everything recorded in this io turn (and until the interval
        // since the last fsync has passed) shares it.
        sync_pending_ = true;
        const auto due = last_sync_ + interval_;
        sync_timer_.expires_at(std::max(due, std::chrono::steady_clock::now()));
        sync_timer_.async_wait([this](const boost::system::error_code& ec) {
          if (ec) return;
          sync_pending_ = false;
          SyncAndNotify();
        });
      }
      break;
  }
  return seq;
}

void Recorder::SyncAndNotify() {
  if (absl::Status s = journal_.Sync(); !s.ok()) {
    spdlog::error("journal: sync failed: {}", s.ToString());
    return;
  }
  last_sync_ = std::chrono::steady_clock::now();
  if (on_durable_) on_durable_();
}

void Recorder::Flush() {
  sync_timer_.cancel();
  sync_pending_ = false;
  SyncAndNotify();
}

}  // namespace cit::agent
