// FixTracker: what gpsd reports become Fix / GnssStatus records (hand-made gps_data_t as libgps
// 3.22 fills it), and GpsdSession/GpsSource against a real gpsd fed by gpsfake.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/test_env.h"
#include "vehicle-agent/gps_source.h"

namespace cit::agent {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

gps_data_t Empty() {
  gps_data_t gd{};
  gps_fix_t& f = gd.fix;
  f.latitude = f.longitude = f.altHAE = f.altMSL = f.speed = f.track = f.eph = f.epv = f.eps = kNaN;
  gd.dop.hdop = kNaN;
  return gd;
}

gps_data_t Tpv(int mode, double lat, double lon, time_t t) {
  gps_data_t gd = Empty();
  gd.set = MODE_SET | LATLON_SET | TIME_SET;
  gd.fix.mode = mode;
  gd.fix.latitude = lat;
  gd.fix.longitude = lon;
  gd.fix.time = {t, 0};
  return gd;
}

timespec Now(time_t t) { return {t, 0}; }

TEST(FixTrackerTest, StartupReportsWithNaNMakeNoRecords) {
  FixTracker tr(std::chrono::seconds(86400));
  gps_data_t gd = Empty();
  gd.set = VERSION_SET;
  EXPECT_TRUE(tr.OnGpsData(gd, Now(1'700'000'000)).empty());
}

TEST(FixTrackerTest, FirstFixEmitsAcquiredThenFixWithOptionalFields) {
  FixTracker tr(std::chrono::seconds(86400));
  gps_data_t gd = Tpv(MODE_3D, 48.1, 11.5, 1'700'000'000);
  gd.fix.altMSL = 520.5;
  gd.fix.speed = 3.2;
  gd.fix.track = 91.0;
  gd.fix.eph = 4.5;
  gd.fix.epv = 7.0;
  gd.satellites_used = 9;
  gd.dop.hdop = 0.9;
  auto out = tr.OnGpsData(gd, Now(1'700'000'001));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].gnss().state(), cit::v1::GNSS_STATE_FIX_ACQUIRED);
  const auto& fix = out[1].fix();
  EXPECT_DOUBLE_EQ(fix.lat_deg(), 48.1);
  EXPECT_EQ(fix.mode(), cit::v1::FIX_MODE_3D);
  EXPECT_DOUBLE_EQ(fix.alt_m(), 520.5);
  EXPECT_DOUBLE_EQ(fix.speed_mps(), 3.2);
  EXPECT_DOUBLE_EQ(fix.track_deg(), 91.0);
  EXPECT_EQ(fix.satellites_used(), 9u);
  EXPECT_DOUBLE_EQ(fix.hdop(), 0.9);
  EXPECT_DOUBLE_EQ(fix.eph_m(), 4.5);
  EXPECT_FALSE(fix.has_eps_mps());  // NaN in libgps -> absent
  EXPECT_FALSE(fix.has_jam_indicator());
  EXPECT_FALSE(fix.time_suspect());
  EXPECT_EQ(out[1].event_time().seconds(), 1'700'000'000);
}

TEST(FixTrackerTest, SkyReportRepeatingTheLastTpvIsNotANewFix) {
  FixTracker tr(std::chrono::seconds(86400));
  gps_data_t gd = Tpv(MODE_2D, 48.1, 11.5, 1'700'000'000);
  EXPECT_EQ(tr.OnGpsData(gd, Now(1'700'000'000)).size(), 2u);
  gd.set = SATELLITE_SET | MODE_SET | LATLON_SET;  // SKY keeps the TPV flags and fix
  EXPECT_TRUE(tr.OnGpsData(gd, Now(1'700'000'000)).empty());
  gd.fix.time = {1'700'000'001, 0};
  auto out = tr.OnGpsData(gd, Now(1'700'000'001));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has_fix());
  EXPECT_EQ(tr.fixes(), 2u);
}

TEST(FixTrackerTest, FixLostAndRegainedAreRecordedOnce) {
  FixTracker tr(std::chrono::seconds(86400));
  tr.OnGpsData(Tpv(MODE_3D, 48.1, 11.5, 100), Now(100));
  auto lost = tr.OnGpsData(Tpv(MODE_NO_FIX, kNaN, kNaN, 101), Now(101));
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].gnss().state(), cit::v1::GNSS_STATE_FIX_LOST);
  EXPECT_TRUE(tr.OnGpsData(Tpv(MODE_NO_FIX, kNaN, kNaN, 102), Now(102)).empty());
  auto back = tr.OnGpsData(Tpv(MODE_2D, 48.1, 11.5, 103), Now(103));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].gnss().state(), cit::v1::GNSS_STATE_FIX_ACQUIRED);
  EXPECT_TRUE(tr.OnFixTimeout().size() == 1u);
  EXPECT_TRUE(tr.OnFixTimeout().empty());
}

TEST(FixTrackerTest, FixesWithoutTimeAreNewWhenThePositionMoves) {
  FixTracker tr(std::chrono::seconds(86400));
  auto a = tr.OnGpsData(Tpv(MODE_3D, 52.85, 5.31, 0), Now(100));
  ASSERT_EQ(a.size(), 3u);  // acquired, time suspect (no time), fix
  EXPECT_TRUE(a[2].fix().time_suspect());
  EXPECT_EQ(a[2].event_time().seconds(), 100);
  EXPECT_TRUE(tr.OnGpsData(Tpv(MODE_3D, 52.85, 5.31, 0), Now(100)).empty());
  auto b = tr.OnGpsData(Tpv(MODE_3D, 52.86, 5.31, 0), Now(101));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_DOUBLE_EQ(b[0].fix().lat_deg(), 52.86);
}

TEST(FixTrackerTest, ModeTwoWithNaNPositionIsNotAFix) {
  FixTracker tr(std::chrono::seconds(86400));
  EXPECT_TRUE(tr.OnGpsData(Tpv(MODE_2D, kNaN, 11.5, 100), Now(100)).empty());
  EXPECT_TRUE(tr.OnGpsData(Tpv(MODE_2D, 95.0, 11.5, 100), Now(100)).empty());
}

TEST(FixTrackerTest, WeekRolloverFixIsKeptStampedWithAgentClockAndFlagged) {
  FixTracker tr(std::chrono::seconds(86400));
  const time_t now = 1'795'000'000;                // 2026
  const time_t receiver = now - 1024 * 7 * 86400;  // 1024 weeks earlier
  auto out = tr.OnGpsData(Tpv(MODE_3D, 48.1, 11.5, receiver), Now(now));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].gnss().state(), cit::v1::GNSS_STATE_FIX_ACQUIRED);
  EXPECT_EQ(out[1].gnss().state(), cit::v1::GNSS_STATE_TIME_SUSPECT);
  const auto& rec = out[2];
  EXPECT_TRUE(rec.fix().time_suspect());
  EXPECT_EQ(rec.fix().receiver_time().seconds(), receiver);
  EXPECT_EQ(rec.event_time().seconds(), now);
  // The condition is reported once, not per fix.
  auto next = tr.OnGpsData(Tpv(MODE_3D, 48.1, 11.5, receiver + 1), Now(now + 1));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].fix().time_suspect());
  EXPECT_EQ(tr.suspect_times(), 2u);
}

TEST(FixTrackerTest, ConnectAndDisconnectAreStates) {
  FixTracker tr(std::chrono::seconds(86400));
  EXPECT_EQ(tr.OnConnected()[0].gnss().state(), cit::v1::GNSS_STATE_GPSD_CONNECTED);
  auto d = tr.OnDisconnected("gone");
  EXPECT_EQ(d[0].gnss().state(), cit::v1::GNSS_STATE_GPSD_DISCONNECTED);
  EXPECT_EQ(d[0].gnss().detail(), "gone");
}

TEST(GpsdSessionTest, AbsentGpsdIsUnavailable) {
  const int port = test::FreeTcpPort();
  auto s = GpsdSession::Open("127.0.0.1", std::to_string(port));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cit::agent
