#include "vehicle-agent/uplink.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "vehicle-agent/text_file.h"

namespace cit::agent {
namespace {

constexpr const char* kAgentVersion = "vehicle-agent 0.1.0";

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeUplinkCredentials(
    const AgentConfig::Uplink& config) {
  if (config.insecure) {
    spdlog::warn("uplink: plaintext (uplink.insecure); development only");
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions opts;
  absl::StatusOr<std::string> ca = ReadTextFile(config.ca_file, "uplink.ca_file");
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = ReadTextFile(config.cert_file, "uplink.cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadTextFile(config.key_file, "uplink.key_file");
  if (!key.ok()) return key.status();
  opts.pem_root_certs = *ca;
  opts.pem_cert_chain = *cert;
  opts.pem_private_key = *key;
  return grpc::SslCredentials(opts);
}

// Set once gRPC is done with a Stream: its OnDone has handed the Stream to the io thread and
// will touch it no more. Shared, so that Shutdown can wait for it without holding the Stream.
class Uplink::Finished {
 public:
  void Set() {
    std::lock_guard lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool IsSet() {
    std::lock_guard lock(mu_);
    return set_;
  }
  // Blocks until Set (true) or the timeout passed (false); any thread but gRPC's.
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// One attempt at the stream. gRPC callbacks only copy data and post to the io_context.
class Uplink::Stream final
    : public grpc::ClientBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage>,
      public std::enable_shared_from_this<Uplink::Stream> {
 public:
  Stream(Uplink* owner, boost::asio::io_context& io) : owner_(owner), io_(io) {}

  void Begin(cit::v1::Telemetry::Stub& stub) {
    self_ = shared_from_this();  // kept until OnDone
    stub.async()->Stream(&ctx_, this);
    AddHold();  // writes start from the io thread, outside reactions
    StartRead(&in_);
    StartCall();
  }
  // io thread; at most one in flight (Uplink::write_in_flight_).
  void Write(cit::v1::AgentMessage msg) {
    out_ = std::move(msg);
    StartWrite(&out_);
  }
  // io thread; idempotent. After this no more writes are started.
  void End() {
    if (ended_) return;
    ended_ = true;
    ctx_.TryCancel();
    RemoveHold();
  }
  bool ended() const { return ended_; }
  // Set when gRPC is done with this stream.
  const std::shared_ptr<Finished>& finished() const { return finished_; }

  void OnReadDone(bool ok) override {
    auto self = shared_from_this();
    if (!ok) {
      boost::asio::post(io_, [self] { self->owner_->OnReadFailed(self); });
      return;
    }
    boost::asio::post(io_, [self, msg = in_] { self->owner_->OnMessage(self, msg); });
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    auto self = shared_from_this();
    boost::asio::post(io_, [self, ok] { self->owner_->OnWriteDone(self, ok); });
  }
  // The self-reference goes to the io thread, and gRPC's thread holds none after the post: the
  // io thread (or the io_context's destruction) releases the Stream, its ClientContext and with
  // it maybe the last reference to the channel. Released here, after Shutdown had returned, the
  // channel was now and then destroyed on gRPC's own thread while the owner tore down, and
  // gRPC 1.51 aborted (ref_counted.h "prior > 0") in its callback queue or global shutdown.
  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<Finished> finished = finished_;
    boost::asio::post(io_,
                      [self = std::move(self_), status] { self->owner_->OnDone(self, status); });
    // Nothing of *this from here on: the io thread may have destroyed it already.
    finished->Set();
  }

 private:
  Uplink* owner_;
  boost::asio::io_context& io_;
  grpc::ClientContext ctx_;
  cit::v1::ServerMessage in_;
  cit::v1::AgentMessage out_;
  std::shared_ptr<Stream> self_;
  bool ended_ = false;
  std::shared_ptr<Finished> finished_ = std::make_shared<Finished>();
};

Uplink::Uplink(boost::asio::io_context& io, const AgentConfig::Uplink& config,
               std::string vehicle_id, Journal& journal)
    : io_(io),
      config_(config),
      vehicle_id_(std::move(vehicle_id)),
      journal_(journal),
      reconnect_timer_(io),
      welcome_timer_(io),
      backoff_(config.backoff_initial_ms) {}

Uplink::~Uplink() { Shutdown(); }

absl::Status Uplink::Start() {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = MakeUplinkCredentials(config_);
  if (!creds.ok()) return creds.status();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(config_.keepalive_time_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(config_.keepalive_timeout_ms));
  // Keep pinging on a quiet stream (no GPS, no events): silence must not hide a dead link.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // The channel's own reconnect backoff must not outlast ours (default max is 120 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(config_.backoff_initial_ms));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(config_.backoff_initial_ms));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(config_.backoff_max_ms));
  if (!config_.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(config_.tls_server_name);
  }
  targets_.clear();
  for (const std::string& address : config_.servers) {
    Target t{address, grpc::CreateCustomChannel(address, *creds, args), nullptr};
    t.stub = cit::v1::Telemetry::NewStub(t.channel);
    targets_.push_back(std::move(t));
  }
  if (targets_.empty()) return absl::InvalidArgumentError("uplink: no server address configured");
  current_ = 0;
  stopping_ = false;
  Connect();
  return absl::OkStatus();
}

void Uplink::Connect() {
  if (stopping_ || stream_) return;
  ++stats_.connect_attempts;
  welcomed_ = false;
  write_in_flight_ = false;
  accepts_urgent_ = false;
  stream_ = std::make_shared<Stream>(this, io_);
  stream_->Begin(*targets_[current_].stub);
  cit::v1::AgentMessage hello;
  hello.mutable_hello()->set_vehicle_id(vehicle_id_);
  hello.mutable_hello()->set_first_unacked_seq(journal_.first_unacked_seq());
  hello.mutable_hello()->set_agent_version(kAgentVersion);
  hello.mutable_hello()->set_backlog_records(journal_.backlog_records());
  write_in_flight_ = true;
  stream_->Write(std::move(hello));
  // A server that accepts the connection but never answers must not wedge the agent.
  welcome_timer_.expires_after(std::chrono::milliseconds(config_.connect_timeout_ms));
  std::weak_ptr<Stream> weak = stream_;
  welcome_timer_.async_wait([this, weak](const boost::system::error_code& ec) {
    auto s = weak.lock();
    if (ec || !s || s != stream_ || welcomed_) return;
    DropStream(s, "no Welcome within connect_timeout_ms");
  });
}

void Uplink::NextServer() {
  current_ = (current_ + 1) % targets_.size();
  ++stats_.failovers;
}

void Uplink::ScheduleReconnect() {
  if (stopping_) return;
  // Exponential backoff with "equal jitter": half fixed, half random, so a fleet that lost the
  // server together does not reconnect in lockstep.
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  const auto delay = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff_.count()) * jitter(rng_)));
  backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(config_.backoff_max_ms));
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Connect();
  });
}

void Uplink::DropStream(const std::shared_ptr<Stream>& s, const std::string& why) {
  if (s != stream_) return;
  if (!outage_logged_) {  // one line per outage; the Welcome line names where it ended
    const std::string& from = targets_[current_].address;
    if (targets_.size() > 1) {
      spdlog::warn(
          "uplink: stream to {} down: {}; trying {} next, then the others in turn; buffering in "
          "the journal",
          from, why, targets_[(current_ + 1) % targets_.size()].address);
    } else {
      spdlog::warn("uplink: stream to {} down: {}; buffering in the journal", from, why);
    }
    outage_logged_ = true;
  }
  welcome_timer_.cancel();
  s->End();
  std::erase_if(ending_, [](const std::shared_ptr<Finished>& f) { return f->IsSet(); });
  ending_.push_back(s->finished());
  stream_.reset();
  welcomed_ = false;
  write_in_flight_ = false;
  if (targets_.size() > 1) {
    // Another instance may be up: try it at once; wait (and back off) only when all failed.
    NextServer();
    if (++failed_in_a_row_ < targets_.size()) return Connect();
    failed_in_a_row_ = 0;
  }
  ScheduleReconnect();
}

void Uplink::OnReadFailed(const std::shared_ptr<Stream>& s) { DropStream(s, "read failed"); }

void Uplink::OnDone(const std::shared_ptr<Stream>& s, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    // A batch over the server's limits: nothing of it was acknowledged; resend in halves. The
    // status may arrive after the failed read already replaced the stream (and the new one was
    // welcomed), so the current stream's limit shrinks too.
    const uint32_t before =
        std::min(batch_cap_, batch_limit_ > 0 ? batch_limit_ : config_.batch_max_records);
    batch_cap_ = std::max<uint32_t>(1, before / 2);
    batch_limit_ = std::min(batch_limit_, batch_cap_);
    stats_.batch_limit = batch_limit_;
    ++stats_.batch_shrinks;
    if (before <= 1) {
      spdlog::error("uplink: server refuses even a single-record batch: {}",
                    status.error_message());
    } else {
      spdlog::warn("uplink: server refused a batch as too large ({}); batches of {} records now",
                   status.error_message(), batch_cap_);
    }
  }
  if (s == stream_) {
    DropStream(s, absl::StrCat("status ", status.error_code(), " ", status.error_message()));
  } else if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    spdlog::debug("uplink: old stream ended: {}", status.error_message());
  }
}

void Uplink::OnWriteDone(const std::shared_ptr<Stream>& s, bool ok) {
  if (s != stream_) return;
  write_in_flight_ = false;
  if (!ok) {
    DropStream(s, "write failed");
    return;
  }
  Pump();
}

void Uplink::OnMessage(const std::shared_ptr<Stream>& s, const cit::v1::ServerMessage& msg) {
  if (s != stream_) return;
  switch (msg.msg_case()) {
    case cit::v1::ServerMessage::kWelcome: {
      const auto& w = msg.welcome();
      welcome_timer_.cancel();
      welcomed_ = true;
      ++stats_.welcomes;
      backoff_ = std::chrono::milliseconds(config_.backoff_initial_ms);
      outage_logged_ = false;
      failed_in_a_row_ = 0;
      accepts_urgent_ = w.accepts_urgent();
      batch_limit_ = config_.batch_max_records;
      if (w.max_batch_records() > 0) batch_limit_ = std::min(batch_limit_, w.max_batch_records());
      batch_limit_ = std::max<uint32_t>(1, std::min(batch_limit_, batch_cap_));
      stats_.batch_limit = batch_limit_;
      const uint64_t h = w.highest_stored_seq();
      // The server has seen seqs we no longer hold (journal lost): never hand them out again.
      if (absl::Status st = journal_.EnsureSeqAbove(h); !st.ok()) {
        spdlog::error("uplink: {}", st.ToString());
      }
      if (absl::Status st = journal_.Acknowledge(h); !st.ok()) {
        spdlog::error("uplink: trim failed: {}", st.ToString());
      }
      server_acked_ = h;
      stats_.highest_acked = std::max(stats_.highest_acked, h);
      next_send_seq_ = std::max(h + 1, journal_.first_unacked_seq());
      spdlog::info(
          "uplink: connected to {}; server holds through seq {}, resending from {} ({} "
          "records waiting)",
          targets_[current_].address, h, next_send_seq_,
          journal_.durable_seq() >= next_send_seq_ ? journal_.durable_seq() - next_send_seq_ + 1
                                                   : 0);
      Pump();
      break;
    }
    case cit::v1::ServerMessage::kAck: {
      const uint64_t t = msg.ack().through_seq();
      ++stats_.acks;
      if (t > server_acked_) server_acked_ = t;
      stats_.highest_acked = std::max(stats_.highest_acked, t);
      if (absl::Status st = journal_.Acknowledge(t); !st.ok()) {
        spdlog::error("uplink: trim failed: {}", st.ToString());
      }
      Pump();
      break;
    }
    case cit::v1::ServerMessage::kRejected:
      ++stats_.rejected;
      spdlog::warn("uplink: server rejected seq {}: {} ({})", msg.rejected().seq(),
                   cit::v1::RejectReason_Name(msg.rejected().reason()), msg.rejected().detail());
      break;
    default:
      break;
  }
}

void Uplink::Urgent(const cit::v1::Record& record) {
  if (!welcomed_ || !accepts_urgent_) return;  // the in-order stream carries it anyway
  urgent_.push_back(record);
}

void Uplink::Pump() {
  if (!stream_ || !welcomed_ || write_in_flight_ || stream_->ended()) return;
  const uint64_t durable = journal_.durable_seq();
  // 1. Urgent early copies, when they would otherwise queue behind a backlog.
  cit::v1::AgentMessage msg;
  while (!urgent_.empty()) {
    const cit::v1::Record& r = urgent_.front();
    if (r.seq() < next_send_seq_ + batch_limit_) {  // goes out with the next in-order batch
      urgent_.pop_front();
      continue;
    }
    if (r.seq() > durable) break;  // journal before send, always
    *msg.mutable_urgent()->add_records() = r;
    urgent_.pop_front();
  }
  if (msg.has_urgent()) {
    stats_.urgent_sent += static_cast<uint64_t>(msg.urgent().records_size());
    write_in_flight_ = true;
    stream_->Write(std::move(msg));
    return;
  }
  // 2. In-order records, within the unacknowledged window.
  if (next_send_seq_ > durable) return;
  const uint64_t inflight = next_send_seq_ - 1 - std::min(server_acked_, next_send_seq_ - 1);
  if (inflight >= config_.max_inflight_records) return;
  const size_t room = std::min<uint64_t>(batch_limit_, config_.max_inflight_records - inflight);
  absl::StatusOr<std::vector<cit::v1::Record>> recs = journal_.Read(next_send_seq_, room);
  if (!recs.ok()) {
    spdlog::error("uplink: journal read failed: {}", recs.status().ToString());
    return;
  }
  if (recs->empty()) return;
  auto* batch = msg.mutable_batch();
  // Seqs between next_send_seq_ and the records read were thinned away: say so, so the server's
  // watermark (and our acks) can move past them.
  batch->set_covers_from_seq(next_send_seq_);
  next_send_seq_ = recs->back().seq() + 1;
  batch->mutable_records()->Reserve(static_cast<int>(recs->size()));
  for (auto& r : *recs) *batch->add_records() = std::move(r);
  ++stats_.batches_sent;
  stats_.records_sent += recs->size();
  write_in_flight_ = true;
  stream_->Write(std::move(msg));
}

void Uplink::Shutdown() {
  stopping_ = true;
  reconnect_timer_.cancel();
  welcome_timer_.cancel();
  if (stream_) {
    std::shared_ptr<Stream> s = std::move(stream_);
    s->End();
    ending_.push_back(s->finished());
  }
  for (const std::shared_ptr<Finished>& f : ending_) {
    if (!f->Wait(std::chrono::seconds(5))) spdlog::warn("uplink: stream did not finish in 5 s");
  }
  ending_.clear();
  welcomed_ = false;
}

}  // namespace cit::agent
