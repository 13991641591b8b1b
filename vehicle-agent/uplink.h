// Uplink: the agent's side of the telemetry stream (DESIGN §4). Keeps one gRPC bidi stream to
// dispatch-server open, sends journalled records in seq order, trims the journal on Ack, and
// reconnects with exponential backoff and jitter whenever the stream ends. With several
// server addresses (instances sharing one database) a stream that ends or cannot start moves on
// to the next address at once; the backoff grows only when every address failed in a row. The
// agent stays on an address that works (no return to the first: any instance will do).
//
//   cit::agent::Uplink uplink(io, cfg.uplink, cfg.vehicle_id, journal);
//   absl::Status s = uplink.Start();        // TLS files read here; connects in the background
//   recorder.OnDurable([&] { uplink.Pump(); });
//   recorder.OnUrgent([&](const cit::v1::Record& r) { uplink.Urgent(r); });
//   ...
//   uplink.Shutdown();                      // cancels the stream and waits for gRPC to finish
//
// Protocol per stream: Hello{vehicle_id, first_unacked_seq} -> Welcome{highest_stored_seq}; the
// journal is trimmed through highest_stored_seq and sending resumes after it. Records go out in
// batches of up to min(batch_max_records, Welcome.max_batch_records), at most
// max_inflight_records unacknowledged. A stream that ends RESOURCE_EXHAUSTED (a batch over the
// server's record or byte limit, or over the gRPC message limit) halves the batch size, down to
// 1, for every later stream of this process; nothing of the refused batch was acknowledged, so
// it goes out again in smaller batches. Urgent records (panic, door, seal) made while a backlog
// is queued are also sent at once as AgentMessage.urgent when the server accepts that.
//
// Thread contract: every public method and all state live on the io_context thread. The gRPC
// reactor's callbacks run on gRPC threads and only post to the io_context (no disk, no locks
// held across I/O); writes are started from the io thread under the reactor's hold.
#ifndef CIT_VEHICLE_AGENT_UPLINK_H_
#define CIT_VEHICLE_AGENT_UPLINK_H_

#include <grpcpp/grpcpp.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cit/v1/telemetry.grpc.pb.h"
#include "vehicle-agent/config.h"
#include "vehicle-agent/journal.h"

namespace cit::agent {

struct UplinkStats {
  uint64_t connect_attempts = 0;
  uint64_t welcomes = 0;
  uint64_t batches_sent = 0;
  uint64_t records_sent = 0;
  uint64_t urgent_sent = 0;
  uint64_t acks = 0;
  uint64_t rejected = 0;
  uint64_t highest_acked = 0;
  // Times the server refused a batch as too large (RESOURCE_EXHAUSTED) and the agent halved it.
  uint64_t batch_shrinks = 0;
  // Records per in-order batch on the current stream.
  uint32_t batch_limit = 0;
  // Times a stream moved on to the next of several server addresses.
  uint64_t failovers = 0;
};

// Channel credentials from the config: mTLS with the vehicle certificate, or insecure (dev).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeUplinkCredentials(
    const AgentConfig::Uplink& config);

class Uplink final {
 public:
  Uplink(boost::asio::io_context& io, const AgentConfig::Uplink& config, std::string vehicle_id,
         Journal& journal);
  ~Uplink();
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;
  Uplink(Uplink&&) = delete;
  Uplink& operator=(Uplink&&) = delete;

  absl::Status Start();
  // New durable records may be sendable.
  void Pump();
  // An urgent record was journalled (not yet durable).
  void Urgent(const cit::v1::Record& record);
  // Ends the stream and waits (bounded) until gRPC is done with it. Call before destruction,
  // while the io_context object still exists.
  void Shutdown();

  bool connected() const { return welcomed_; }
  const UplinkStats& stats() const { return stats_; }

 private:
  class Stream;
  class Finished;
  void Connect();
  void ScheduleReconnect();
  void OnMessage(const std::shared_ptr<Stream>& s, const cit::v1::ServerMessage& msg);
  void OnWriteDone(const std::shared_ptr<Stream>& s, bool ok);
  void OnReadFailed(const std::shared_ptr<Stream>& s);
  void OnDone(const std::shared_ptr<Stream>& s, const grpc::Status& status);
  void DropStream(const std::shared_ptr<Stream>& s, const std::string& why);
  // Moves to the next server address.
  void NextServer();

  // One server address and its channel (each keeps its own connection state and backoff).
  struct Target {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<cit::v1::Telemetry::Stub> stub;
  };

  boost::asio::io_context& io_;
  AgentConfig::Uplink config_;
  std::string vehicle_id_;
  Journal& journal_;
  std::vector<Target> targets_;
  size_t current_ = 0;          // the address the stream uses or will use next
  size_t failed_in_a_row_ = 0;  // attempts without a Welcome since the last one, any address
  std::shared_ptr<Stream> stream_;
  // Streams ended but maybe not yet finished by gRPC; Shutdown waits for them so no gRPC thread
  // posts to the io_context, or holds a stream (and through its context a channel), after the
  // agent is gone.
  std::vector<std::shared_ptr<Finished>> ending_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer welcome_timer_;
  std::chrono::milliseconds backoff_;
  std::mt19937 rng_{std::random_device{}()};
  bool stopping_ = false;
  bool welcomed_ = false;
  bool write_in_flight_ = false;
  bool accepts_urgent_ = false;
  uint32_t batch_limit_ = 0;
  // Upper bound on batch_limit_ learnt from RESOURCE_EXHAUSTED (kept across streams).
  uint32_t batch_cap_ = UINT32_MAX;
  uint64_t next_send_seq_ = 0;  // next seq to send in order on this stream
  uint64_t server_acked_ = 0;   // highest through_seq (or Welcome) on this stream
  std::deque<cit::v1::Record> urgent_;
  bool outage_logged_ = false;
  UplinkStats stats_;
};

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_UPLINK_H_
