#include "vehicle-agent/gps_source.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "spdlog/spdlog.h"

namespace cit::agent {
namespace {

cit::v1::Record Status(cit::v1::GnssState state, const std::string& detail) {
  cit::v1::Record r;
  r.mutable_gnss()->set_state(state);
  r.mutable_gnss()->set_detail(detail);
  return r;
}

bool SameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

google::protobuf::Timestamp ToProto(const timespec& ts) {
  google::protobuf::Timestamp t;
  t.set_seconds(ts.tv_sec);
  t.set_nanos(static_cast<int32_t>(ts.tv_nsec));
  return t;
}

void SetIfFinite(double v, const std::function<void(double)>& set) {
  if (std::isfinite(v)) set(v);
}

}  // namespace

// ---- FixTracker ----------------------------------------------------------------------------

std::vector<cit::v1::Record> FixTracker::OnGpsData(const gps_data_t& gd, const timespec& now) {
  std::vector<cit::v1::Record> out;
  const gps_fix_t& f = gd.fix;
  const bool usable = f.mode >= MODE_2D && std::isfinite(f.latitude) &&
                      std::isfinite(f.longitude) && std::fabs(f.latitude) <= 90.0 &&
                      std::fabs(f.longitude) <= 180.0;
  if (!usable) {
    // Only an explicit "no fix" mode from gpsd counts; MODE_NOT_SEEN is the start-up reports.
    if (f.mode == MODE_NO_FIX && (gd.set & MODE_SET) != 0 && state_ != State::kNoFix) {
      const bool was_fix = state_ == State::kFix;
      state_ = State::kNoFix;
      out.push_back(
          Status(cit::v1::GNSS_STATE_FIX_LOST, was_fix ? "receiver reports no fix" : "no fix yet"));
    }
    return out;
  }
  const bool has_time = f.time.tv_sec != 0 || f.time.tv_nsec != 0;
  // SKY and other reports repeat the last TPV's fix: a fix is new only when its time moved.
  // A fix without time (some NMEA receivers before their first RMC/ZDA) is new when its
  // position moved.
  if (has_time && SameTime(f.time, last_fix_time_)) return out;
  if (!has_time && last_lat_ == f.latitude && last_lon_ == f.longitude) return out;
  last_fix_time_ = f.time;
  last_lat_ = f.latitude;
  last_lon_ = f.longitude;

  if (state_ != State::kFix) {
    state_ = State::kFix;
    out.push_back(Status(cit::v1::GNSS_STATE_FIX_ACQUIRED, f.mode >= MODE_3D ? "3D" : "2D"));
  }

  cit::v1::Record rec;
  cit::v1::Fix* fix = rec.mutable_fix();
  fix->set_lat_deg(f.latitude);
  fix->set_lon_deg(f.longitude);
  fix->set_mode(f.mode >= MODE_3D ? cit::v1::FIX_MODE_3D : cit::v1::FIX_MODE_2D);
  if (f.mode >= MODE_3D) SetIfFinite(f.altMSL, [&](double v) { fix->set_alt_m(v); });
  SetIfFinite(f.speed, [&](double v) { fix->set_speed_mps(std::max(0.0, v)); });
  SetIfFinite(f.track, [&](double v) {
    if (v >= 0.0 && v < 360.0) fix->set_track_deg(v);
  });
  if (gd.satellites_used > 0) fix->set_satellites_used(static_cast<uint32_t>(gd.satellites_used));
  SetIfFinite(gd.dop.hdop, [&](double v) { fix->set_hdop(v); });
  SetIfFinite(f.eph, [&](double v) { fix->set_eph_m(v); });
  SetIfFinite(f.epv, [&](double v) { fix->set_epv_m(v); });
  SetIfFinite(f.eps, [&](double v) { fix->set_eps_mps(v); });

  // Week-rollover (and gross clock) check: a receiver 1024 weeks off would put the track in
  // another decade. Keep the fix, but order it by the agent's clock.
  bool suspect = !has_time;
  if (has_time) {
    const double skew = std::fabs(static_cast<double>(f.time.tv_sec - now.tv_sec));
    suspect = skew > static_cast<double>(max_skew_.count());
    if (suspect) {
      *fix->mutable_receiver_time() = ToProto(f.time);
    }
  }
  if (suspect) {
    fix->set_time_suspect(true);
    *rec.mutable_event_time() = ToProto(now);
    ++suspect_times_;
    if (!time_suspect_) {
      time_suspect_ = true;
      const double days = has_time ? static_cast<double>(f.time.tv_sec - now.tv_sec) / 86400.0 : 0;
      if (!time_suspect_logged_) {
        spdlog::warn(
            "gps: receiver time is {:.1f} days off the system clock (GPS week rollover?); fixes "
            "are kept, stamped with the agent clock and flagged time_suspect",
            days);
        time_suspect_logged_ = true;
      }
      out.push_back(Status(cit::v1::GNSS_STATE_TIME_SUSPECT,
                           has_time ? fmt::format("receiver time {:.1f} days off", days)
                                    : std::string("fix without time")));
    }
  } else {
    time_suspect_ = false;
    *rec.mutable_event_time() = ToProto(f.time);
  }
  ++fixes_;
  out.push_back(std::move(rec));
  return out;
}

std::vector<cit::v1::Record> FixTracker::OnConnected() {
  // The last fix time is kept across reconnects: gpsd repeats a fix in several reports of one
  // cycle, and a report seen before the link dropped must not be journalled again.
  state_ = State::kUnknown;
  return {Status(cit::v1::GNSS_STATE_GPSD_CONNECTED, "")};
}

std::vector<cit::v1::Record> FixTracker::OnDisconnected(const std::string& why) {
  state_ = State::kUnknown;
  return {Status(cit::v1::GNSS_STATE_GPSD_DISCONNECTED, why)};
}

std::vector<cit::v1::Record> FixTracker::OnFixTimeout() {
  if (state_ == State::kNoFix) return {};
  const bool was_fix = state_ == State::kFix;
  state_ = State::kNoFix;
  return {Status(cit::v1::GNSS_STATE_FIX_LOST,
                 was_fix ? "no fix reported within the timeout" : "no fix since connecting")};
}

// ---- GpsdSession ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<GpsdSession>> GpsdSession::Open(const std::string& host,
                                                               const std::string& port) {
  std::unique_ptr<GpsdSession> s(new GpsdSession());
  errno = 0;
  if (gps_open(host.c_str(), port.c_str(), &s->gd_) != 0) {
    return absl::UnavailableError(fmt::format("gpsd {}:{}: {}", host, port, gps_errstr(errno)));
  }
  s->open_ = true;
  if (gps_stream(&s->gd_, WATCH_ENABLE | WATCH_JSON, nullptr) != 0) {
    return absl::UnavailableError(fmt::format("gpsd {}:{}: WATCH failed", host, port));
  }
  return s;
}

GpsdSession::~GpsdSession() {
  if (open_) {
    gps_stream(&gd_, WATCH_DISABLE, nullptr);
    gps_close(&gd_);
  }
}

// ---- GpsSource -----------------------------------------------------------------------------

GpsSource::GpsSource(boost::asio::io_context& io, const AgentConfig::Gps& config, RecordSink sink)
    : io_(io),
      config_(config),
      sink_(std::move(sink)),
      tracker_(std::chrono::seconds(config.max_clock_skew_s)),
      reconnect_timer_(io),
      fix_watchdog_(io),
      backoff_(config.reconnect_min_ms) {}

GpsSource::~GpsSource() { Stop(); }

void GpsSource::Start() {
  stopped_ = false;
  Connect();
}

void GpsSource::Stop() {
  stopped_ = true;
  reconnect_timer_.cancel();
  fix_watchdog_.cancel();
  if (stream_) {
    stream_->cancel();
    stream_->release();  // the fd belongs to libgps; gps_close closes it
    stream_.reset();
  }
  session_.reset();
  ++generation_;
}

void GpsSource::Emit(std::vector<cit::v1::Record> records) {
  for (auto& r : records) sink_(std::move(r));
}

void GpsSource::Connect() {
  if (stopped_) return;
  absl::StatusOr<std::unique_ptr<GpsdSession>> s = GpsdSession::Open(config_.host, config_.port);
  if (!s.ok()) {
    if (!ever_connected_logged_) {
      spdlog::warn("gps: {}; retrying with backoff", s.status().ToString());
      ever_connected_logged_ = true;  // one line per outage, not per attempt
    }
    ScheduleReconnect();
    return;
  }
  session_ = std::move(*s);
  ever_connected_logged_ = false;
  backoff_ = std::chrono::milliseconds(config_.reconnect_min_ms);
  spdlog::info("gps: connected to gpsd {}:{}", config_.host, config_.port);
  stream_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, session_->fd());
  ++generation_;
  Emit(tracker_.OnConnected());
  ArmFixWatchdog();
  WaitReadable();
}

void GpsSource::ScheduleReconnect() {
  if (stopped_) return;
  // Full backoff doubling with +-25% jitter, capped.
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  const auto delay = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff_.count()) * jitter(rng_)));
  backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(config_.reconnect_max_ms));
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Connect();
  });
}

void GpsSource::WaitReadable() {
  const uint64_t gen = generation_;
  stream_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this, gen](const boost::system::error_code& ec) {
                        if (ec || gen != generation_ || stopped_) return;
                        OnReadable();
                      });
}

void GpsSource::OnReadable() {
  gps_data_t& gd = session_->data();
  // One socket read may buffer several JSON lines inside libgps: drain them all.
  do {
    errno = 0;
    const int n = gps_read(&gd, nullptr, 0);
    if (n < 0) {
      Disconnect(errno != 0 ? std::string(std::strerror(errno)) : "gpsd closed the connection");
      return;
    }
    if (n == 0) break;
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    std::vector<cit::v1::Record> recs = tracker_.OnGpsData(gd, now);
    for (const auto& r : recs) {
      if (r.has_fix()) ArmFixWatchdog();
    }
    Emit(std::move(recs));
  } while (gps_waiting(&gd, 0));
  WaitReadable();
}

void GpsSource::Disconnect(const std::string& why) {
  spdlog::warn("gps: lost gpsd: {}; reconnecting", why);
  fix_watchdog_.cancel();
  if (stream_) {
    stream_->cancel();
    stream_->release();
    stream_.reset();
  }
  session_.reset();
  ++generation_;
  Emit(tracker_.OnDisconnected(why));
  ScheduleReconnect();
}

void GpsSource::ArmFixWatchdog() {
  fix_watchdog_.expires_after(std::chrono::seconds(config_.fix_timeout_s));
  const uint64_t gen = generation_;
  fix_watchdog_.async_wait([this, gen](const boost::system::error_code& ec) {
    if (ec || gen != generation_ || stopped_) return;
    Emit(tracker_.OnFixTimeout());
    ArmFixWatchdog();
  });
}

}  // namespace cit::agent
