#include "vehicle-agent/agent.h"

#include <csignal>

#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"
#include "vehicle-agent/socket_sensor.h"

namespace cit::agent {

Agent::Agent(AgentConfig config, GpioLineProvider* gpio_provider)
    : config_(std::move(config)),
      signals_(io_, SIGTERM, SIGINT),
      heartbeat_(io_),
      gpio_provider_(gpio_provider != nullptr ? gpio_provider : &libgpiod_) {}

Agent::~Agent() { Shutdown(); }

absl::Status Agent::Run() {
  JournalOptions jopts;
  jopts.dir = config_.journal.dir;
  jopts.max_bytes = config_.journal.max_bytes;
  jopts.segment_bytes = config_.journal.segment_bytes;
  absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(jopts);
  if (!journal.ok()) return journal.status();
  journal_ = std::move(*journal);
  recorder_ =
      std::make_unique<Recorder>(io_, *journal_, config_.vehicle_id, config_.journal.fsync,
                                 std::chrono::milliseconds(config_.journal.fsync_interval_ms));
  uplink_ = std::make_unique<Uplink>(io_, config_.uplink, config_.vehicle_id, *journal_);
  recorder_->OnDurable([this] { uplink_->Pump(); });
  recorder_->OnUrgent([this](const cit::v1::Record& r) { uplink_->Urgent(r); });
  if (absl::Status s = uplink_->Start(); !s.ok()) return s;

  auto sink = [this](cit::v1::Record r) { return recorder_->Add(std::move(r)); };
  if (!config_.sensors.socket_path.empty()) {
    sensors_.push_back(std::make_unique<SocketSensorSource>(io_, config_.sensors.socket_path,
                                                            config_.sensors.socket_mode, sink));
  }
  if (!config_.sensors.gpio.empty()) {
    sensors_.push_back(
        std::make_unique<GpioSensorSource>(io_, config_.sensors.gpio, *gpio_provider_, sink));
  }
  for (auto& s : sensors_) {
    // A broken input must not silence the others or the GPS: log it loudly and carry on.
    if (absl::Status st = s->Start(); !st.ok()) {
      spdlog::error("sensors: {} not started: {}", s->name(), st.ToString());
    }
  }
  if (config_.gps.enabled) {
    gps_ = std::make_unique<GpsSource>(io_, config_.gps, [this](cit::v1::Record r) {
      absl::StatusOr<uint64_t> seq = recorder_->Add(std::move(r));
      if (!seq.ok()) spdlog::error("journal: record lost: {}", seq.status().ToString());
    });
    if (const auto& lf = journal_->last_fix()) {
      gps_->tracker().Seed({static_cast<time_t>(lf->time_ns / 1'000'000'000),
                            static_cast<long>(lf->time_ns % 1'000'000'000)},
                           lf->lat_deg, lf->lon_deg);
    }
    gps_->Start();
  }
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("agent: signal {}; shutting down", sig);
    Shutdown();
  });
  ArmHeartbeat();
  spdlog::info("agent: vehicle {} running (journal {}, server {})", config_.vehicle_id,
               config_.journal.dir.string(), absl::StrJoin(config_.uplink.servers, ", "));
  io_.run();
  Shutdown();
  return absl::OkStatus();
}

void Agent::Stop() {
  boost::asio::post(io_, [this] { Shutdown(); });
}

void Agent::ArmHeartbeat() {
  if (config_.heartbeat_interval_s == 0) return;
  const auto interval = std::chrono::seconds(config_.heartbeat_interval_s);
  heartbeat_.expires_after(interval);
  heartbeat_.async_wait([this, interval](const boost::system::error_code& ec) {
    if (ec) return;
    if (std::chrono::steady_clock::now() - recorder_->last_add() >= interval) {
      cit::v1::Record r;
      r.mutable_heartbeat()->set_journal_backlog_records(journal_->backlog_records());
      if (auto s = recorder_->Add(std::move(r)); !s.ok())
        spdlog::error("heartbeat: {}", s.status().ToString());
    }
    ArmHeartbeat();
  });
}

void Agent::Shutdown() {
  // Idempotent: the signal handler, Stop() and the destructor may all get here.
  if (gps_) gps_->Stop();
  for (auto& s : sensors_) s->Stop();
  boost::system::error_code ec;
  signals_.cancel(ec);
  heartbeat_.cancel();
  if (recorder_) recorder_->Flush();
  if (uplink_) uplink_->Shutdown();
  io_.stop();
}

}  // namespace cit::agent
