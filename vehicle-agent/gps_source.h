// GPS source: reads gpsd through libgps 3.22 (API 11) and turns its reports into Fix and
// GnssStatus records. Reconnects with backoff when gpsd is absent or restarts.
//
//   cit::agent::GpsSource gps(io, cfg.gps, [&](cit::v1::Record r) { recorder.Add(std::move(r)); });
//   gps.Start();   // connects now or keeps retrying; never blocks the io_context for long
//   ...
//   gps.Stop();
//
// FixTracker holds the decisions (what counts as a new usable fix, GNSS state changes, the
// week-rollover check) separately from I/O so they are unit-tested on hand-made gps_data_t.
//
// libgps traps (STYLE.md): validity is mode >= MODE_2D with finite lat/lon (fix.status reads 0 on
// a normal fix); SKY reports keep the previous TPV's flags, so a fix is new only when fix.time
// changed (or, for a fix without time, its position); the first reads (VERSION/DEVICES/WATCH) carry
// NaN. The jam indicator is not exposed by libgps 3.22, so Fix.jam_indicator stays unset.
//
// Thread contract: GpsSource lives on the io_context thread; FixTracker is single-owner.
#ifndef CIT_VEHICLE_AGENT_GPS_SOURCE_H_
#define CIT_VEHICLE_AGENT_GPS_SOURCE_H_

// Pin the libgps API we were written against (3.22 = API 11).
#include <gps.h>
#if GPSD_API_MAJOR_VERSION != 11
#error "vehicle-agent's GpsSource is written for libgps API 11 (gpsd 3.22)"
#endif

#include <time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/telemetry.pb.h"
#include "vehicle-agent/config.h"

namespace cit::agent {

using RecordSink = std::function<void(cit::v1::Record)>;

// Decides which gpsd reports become records. Pure logic, no I/O.
class FixTracker final {
 public:
  explicit FixTracker(std::chrono::seconds max_clock_skew) : max_skew_(max_clock_skew) {}

  // After each gps_read(): returns the records to make (a Fix, and GnssStatus on changes).
  // `now` is the agent's wall clock.
  std::vector<cit::v1::Record> OnGpsData(const gps_data_t& gd, const timespec& now);
  // The newest fix journalled before this process started (receiver time, position): a report
  // repeating it after a restart is not new.
  void Seed(const timespec& time, double lat_deg, double lon_deg) {
    last_fix_time_ = time;
    last_lat_ = lat_deg;
    last_lon_ = lon_deg;
  }
  // gpsd connection came up / went down.
  std::vector<cit::v1::Record> OnConnected();
  std::vector<cit::v1::Record> OnDisconnected(const std::string& why);
  // No usable fix for the timeout while connected.
  std::vector<cit::v1::Record> OnFixTimeout();

  bool has_fix() const { return state_ == State::kFix; }
  uint64_t fixes() const { return fixes_; }
  uint64_t suspect_times() const { return suspect_times_; }

 private:
  enum class State { kUnknown, kFix, kNoFix };
  std::chrono::seconds max_skew_;
  State state_ = State::kUnknown;
  timespec last_fix_time_{};
  double last_lat_ = std::numeric_limits<double>::quiet_NaN();  // of the last emitted fix
  double last_lon_ = std::numeric_limits<double>::quiet_NaN();
  bool time_suspect_logged_ = false;
  bool time_suspect_ = false;
  uint64_t fixes_ = 0;
  uint64_t suspect_times_ = 0;
};

// RAII for a libgps connection: gps_open in Open(), gps_close in the destructor.
class GpsdSession final {
 public:
  static absl::StatusOr<std::unique_ptr<GpsdSession>> Open(const std::string& host,
                                                           const std::string& port);
  ~GpsdSession();
  GpsdSession(const GpsdSession&) = delete;
  GpsdSession& operator=(const GpsdSession&) = delete;
  GpsdSession(GpsdSession&&) = delete;
  GpsdSession& operator=(GpsdSession&&) = delete;

  gps_data_t& data() { return gd_; }
  int fd() const { return gd_.gps_fd; }

 private:
  GpsdSession() = default;
  gps_data_t gd_{};
  bool open_ = false;
};

class GpsSource final {
 public:
  GpsSource(boost::asio::io_context& io, const AgentConfig::Gps& config, RecordSink sink);
  ~GpsSource();
  GpsSource(const GpsSource&) = delete;
  GpsSource& operator=(const GpsSource&) = delete;
  GpsSource(GpsSource&&) = delete;
  GpsSource& operator=(GpsSource&&) = delete;

  void Start();
  void Stop();
  bool connected() const { return session_ != nullptr; }
  const FixTracker& tracker() const { return tracker_; }
  FixTracker& tracker() { return tracker_; }

 private:
  void Connect();
  void ScheduleReconnect();
  void WaitReadable();
  void OnReadable();
  void Disconnect(const std::string& why);
  void ArmFixWatchdog();
  void Emit(std::vector<cit::v1::Record> records);

  boost::asio::io_context& io_;
  AgentConfig::Gps config_;
  RecordSink sink_;
  FixTracker tracker_;
  std::unique_ptr<GpsdSession> session_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> stream_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer fix_watchdog_;
  std::chrono::milliseconds backoff_;
  std::mt19937 rng_{std::random_device{}()};
  bool stopped_ = true;
  bool ever_connected_logged_ = false;
  uint64_t generation_ = 0;  // invalidates callbacks of an older connection
};

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_GPS_SOURCE_H_
