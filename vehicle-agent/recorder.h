// Recorder: the one way a record enters the agent. Stamps agent times and boot, appends to the
// journal, applies the fsync policy, and tells the uplink when records became durable
// (sendable) and when an urgent one (panic/door/seal) was made.
//
//   cit::agent::Recorder rec(io, journal, "truck-042", FsyncPolicy::kInterval, 200ms);
//   rec.OnDurable([&] { uplink.Pump(); });
//   cit::v1::Record r;
//   r.mutable_panic()->set_source("socket");
//   absl::StatusOr<uint64_t> seq = rec.Add(std::move(r));   // event_time = now if unset
//
// Thread contract: everything runs on the io_context's thread.
#ifndef CIT_VEHICLE_AGENT_RECORDER_H_
#define CIT_VEHICLE_AGENT_RECORDER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "cit/v1/telemetry.pb.h"
#include "vehicle-agent/config.h"
#include "vehicle-agent/journal.h"

namespace cit::agent {

// Wall clock (UTC) as a protobuf Timestamp, and CLOCK_MONOTONIC in ns.
google::protobuf::Timestamp WallNow();
int64_t MonotonicNowNs();

class Recorder final {
 public:
  Recorder(boost::asio::io_context& io, Journal& journal, std::string vehicle_id,
           FsyncPolicy policy, std::chrono::milliseconds fsync_interval);
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
  Recorder(Recorder&&) = delete;
  Recorder& operator=(Recorder&&) = delete;

  // Journals `record` (payload set; event_time set or left empty for "now"); returns its seq.
  absl::StatusOr<uint64_t> Add(cit::v1::Record record);

  // Makes every appended record durable now (shutdown).
  void Flush();

  void OnDurable(std::function<void()> fn) { on_durable_ = std::move(fn); }
  void OnUrgent(std::function<void(const cit::v1::Record&)> fn) { on_urgent_ = std::move(fn); }

  std::chrono::steady_clock::time_point last_add() const { return last_add_; }
  Journal& journal() { return journal_; }

 private:
  void SyncAndNotify();

  boost::asio::io_context& io_;
  Journal& journal_;
  std::string vehicle_id_;
  FsyncPolicy policy_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer sync_timer_;
  bool sync_pending_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
  std::chrono::steady_clock::time_point last_add_{};
  std::function<void()> on_durable_;
  std::function<void(const cit::v1::Record&)> on_urgent_;
};

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_RECORDER_H_
