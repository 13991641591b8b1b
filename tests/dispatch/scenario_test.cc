// Scenarios through the real server (scenario_fixture.h): real drives against their routes, a
// coverage gap's backfill, and watchers that resume; on both store backends
// (Backends/ScenarioTest.<case>/sqlite and /postgresql).
#include <gtest/gtest.h>

#include <set>

#include "geo/corridor.h"
#include "tests/dispatch/scenario_fixture.h"

namespace cit::dispatch {
namespace {

using cit::test::TelemetryTestClient;
using scenario::KubickaRoute;
using scenario::KubickaTrack;
using scenario::MunichTrack;
using scenario::ScenarioTest;
using scenario::Watcher;

TEST_P(ScenarioTest, KubickaTrackAgainstItsOwnRouteRaisesNoDeviationOrUnscheduledStop) {
  SKIP_WITHOUT_KUBICKA("00000010");
  const auto track = KubickaTrack("00000010");
  ASSERT_GT(track.size(), 2000u);
  Replay(track, KubickaRoute("00000010"), 38, clock_.Now() - FromSeconds(track.back().t_s + 5));
  for (const cit::v1::Alert& a : ListAlerts(cit::v1::ALERT_KIND_UNSPECIFIED)) {
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_ROUTE_DEVIATION) << a.DebugString();
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_UNSCHEDULED_STOP) << a.DebugString();
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_GNSS_IMPLAUSIBLE) << a.DebugString();
  }
}

TEST_P(ScenarioTest, MunichTraceWithTunnelFreezeRaisesNoDeviationOrUnscheduledStop) {
  const auto track = MunichTrack();
  ASSERT_GT(track.size(), 1000u);
  // The plan's route is the drive itself (every 10th fix): the trace has no separate route.
  std::vector<cit::v1::Position> route;
  for (size_t i = 0; i < track.size(); i += 10) {
    cit::v1::Position p;
    p.set_lon_deg(track[i].lon_deg);
    p.set_lat_deg(track[i].lat_deg);
    route.push_back(p);
  }
  Replay(track, route, 40, clock_.Now() - FromSeconds(track.back().t_s + 5));
  for (const cit::v1::Alert& a : ListAlerts(cit::v1::ALERT_KIND_UNSPECIFIED)) {
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_ROUTE_DEVIATION) << a.DebugString();
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_UNSCHEDULED_STOP) << a.DebugString();
    EXPECT_NE(a.kind(), cit::v1::ALERT_KIND_GNSS_IMPLAUSIBLE) << a.DebugString();
  }
}

TEST_P(ScenarioTest, KubickaDivergingTrackRaisesDeviationWithinTenSecondsAndClearsOnReturn) {
  SKIP_WITHOUT_KUBICKA("00000010");
  SKIP_WITHOUT_KUBICKA("00000016");
  const auto track = KubickaTrack("00000016");
  const auto route = KubickaRoute("00000010");
  constexpr double kHalfWidth = 38;
  // Where the track leaves and re-enters the corridor (same geometry the server uses).
  std::vector<geo::LonLat> pts;
  for (const auto& p : route)
    pts.push_back(*geo::LonLat::Create(geo::Longitude{p.lon_deg()}, geo::Latitude{p.lat_deg()}));
  auto corridor = geo::Corridor::Create(pts);
  ASSERT_TRUE(corridor.ok());
  std::optional<double> left_at;
  std::optional<double> progress;
  for (const auto& p : track) {
    const geo::LonLat ll =
        *geo::LonLat::Create(geo::Longitude{p.lon_deg}, geo::Latitude{p.lat_deg});
    auto m = corridor->Locate(ll, progress);
    progress = m.progress_m;
    if (std::min(m.distance_m, corridor->Locate(ll).distance_m) > kHalfWidth) {
      left_at = p.t_s;
      break;
    }
  }
  ASSERT_TRUE(left_at.has_value());
  EXPECT_NEAR(*left_at, 712, 5);  // SOURCES.md: on route for its first 712 s

  Watcher watcher(*alerts_, 0);
  const SysTime base = clock_.Now() - FromSeconds(track.back().t_s + 5);
  Replay(track, route, kHalfWidth, base);
  const auto alerts = ListAlerts(cit::v1::ALERT_KIND_ROUTE_DEVIATION);
  ASSERT_EQ(alerts.size(), 1u);  // one alert, updated on each excursion
  EXPECT_GE(alerts[0].occurrences(), 3u);
  EXPECT_TRUE(alerts[0].has_condition_cleared_time());  // back on route at the end
  EXPECT_TRUE(alerts[0].delayed());                     // replayed after the fact
  // The first event of the alert is its raise: at the fix that confirmed 2 fixes and 10 s off.
  ASSERT_TRUE(cit::test::WaitFor([&] { return watcher.size() >= 2; }));
  std::vector<cit::v1::AlertEvent> deviation;
  for (const auto& e : watcher.events()) {
    if (e.alert().kind() == cit::v1::ALERT_KIND_ROUTE_DEVIATION) deviation.push_back(e);
  }
  ASSERT_FALSE(deviation.empty());
  const cit::v1::AlertEvent raised = deviation.front();
  EXPECT_EQ(raised.alert().revision(), 1u);
  const double raised_at = Seconds(FromProto(raised.alert().event_time()) - base);
  EXPECT_GE(raised_at - *left_at, 1);   // at least 2 fixes
  EXPECT_LE(raised_at - *left_at, 10);  // and within 10 s of leaving
}

TEST_P(ScenarioTest, CoverageGapBackfillRaisesTheGapsAlertsMarkedDelayed) {
  // A straight 5 km route; the vehicle drives 200 s live, then loses coverage for 10 minutes
  // during which it stands 3 minutes outside every stop zone and opens a door; the backlog
  // arrives when coverage returns.
  cit::v1::RunPlan plan;
  plan.set_run_id("R-gap");
  plan.set_vehicle_id(vehicle_);
  const double lat0 = 32.30, lon0 = 34.85;
  const double m_per_deg_lon = 111'132.0 * std::cos(lat0 * M_PI / 180);
  auto at = [&](double x_m) { return std::pair{lon0 + x_m / m_per_deg_lon, lat0}; };
  for (double x : {0.0, 2500.0, 5000.0}) {
    auto* p = plan.mutable_route()->add_points();
    p->set_lon_deg(at(x).first);
    p->set_lat_deg(at(x).second);
  }
  plan.mutable_route()->set_corridor_half_width_m(50);
  CreateAndDispatch(plan);
  TelemetryTestClient agent(TelemetryChannel());
  ASSERT_GE(agent.Hello(vehicle_), 0);

  const SysTime t0 = clock_.Now();
  // Live: 200 s at 10 m/s, the clock following the records.
  for (int chunk = 0; chunk < 20; ++chunk) {
    std::vector<cit::v1::Record> live;
    for (int i = chunk * 10; i < chunk * 10 + 10; ++i) {
      live.push_back(FixAt(at(10.0 * i).first, at(10.0 * i).second, t0 + FromSeconds(i), 10.0));
    }
    clock_.Set(t0 + FromSeconds(chunk * 10 + 10));
    Send(agent, std::move(live));
  }
  // The gap: nothing arrives for 10 minutes; the clock moves on (COMMS_LOST fires at 260 s).
  for (int s = 200; s <= 800; s += 5) {
    clock_.Set(t0 + FromSeconds(s));
    rm_->monitor().Flush();
  }
  ASSERT_EQ(ListAlerts(cit::v1::ALERT_KIND_COMMS_LOST).size(), 1u);
  // What happened in the gap: 180 s standing at x = 2000, a door opening, then driving on.
  std::vector<cit::v1::Record> backlog;
  for (int i = 200; i < 380; ++i)
    backlog.push_back(FixAt(at(2000).first, at(2000).second, t0 + FromSeconds(i), 0.0));
  cit::v1::Record door;
  *door.mutable_event_time() = ToProto(t0 + FromSeconds(300));
  door.mutable_door()->set_door(1);
  door.mutable_door()->set_state(cit::v1::DOOR_STATE_OPEN);
  backlog.insert(backlog.begin() + 100, door);
  for (int i = 380; i < 800; ++i) {
    const double x = 2000 + 5.0 * (i - 380);
    backlog.push_back(FixAt(at(x).first, at(x).second, t0 + FromSeconds(i), 5.0));
  }
  clock_.Set(t0 + FromSeconds(800));
  Send(agent, std::move(backlog));

  const auto comms = ListAlerts(cit::v1::ALERT_KIND_COMMS_LOST);
  ASSERT_EQ(comms.size(), 1u);
  EXPECT_FALSE(comms[0].delayed());
  EXPECT_TRUE(comms[0].has_condition_cleared_time());
  const auto stop = ListAlerts(cit::v1::ALERT_KIND_UNSCHEDULED_STOP);
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_TRUE(stop[0].delayed());
  EXPECT_NEAR(Seconds(FromProto(stop[0].event_time()) - t0), 320, 1);
  EXPECT_NEAR(stop[0].delay_s(), 800 - 320, 1);
  const auto doors = ListAlerts(cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP);
  ASSERT_EQ(doors.size(), 1u);
  EXPECT_TRUE(doors[0].delayed());
  EXPECT_NEAR(doors[0].delay_s(), 500, 1);
  EXPECT_EQ(ListAlerts(cit::v1::ALERT_KIND_ROUTE_DEVIATION).size(), 0u);
}

TEST_P(ScenarioTest, WatcherThatDisconnectsAndResumesReceivesEveryAlertExactlyOnce) {
  TelemetryTestClient agent(TelemetryChannel());
  ASSERT_GE(agent.Hello(vehicle_), 0);
  auto panic = [&](int i) {
    cit::v1::Record r;
    *r.mutable_event_time() = ToProto(clock_.Now());
    r.mutable_panic()->set_source("button-" + std::to_string(i));
    return r;
  };
  auto first = std::make_unique<Watcher>(*alerts_, 0);
  for (int i = 0; i < 5; ++i) Send(agent, {panic(i)});
  ASSERT_TRUE(cit::test::WaitFor([&] { return first->size() >= 5; }));
  first->Stop();
  auto seen = first->events();
  const uint64_t cursor = seen.back().event_id();
  // Alerts raised and changed while nobody watches.
  for (int i = 5; i < 12; ++i) Send(agent, {panic(i)});
  {
    grpc::ClientContext c;
    cit::v1::AckAlertRequest ack;
    ack.set_alert_id(seen[0].alert().alert_id());
    ack.set_comment("seen");
    cit::v1::Alert out;
    ASSERT_TRUE(alerts_->AckAlert(&c, ack, &out).ok());
    EXPECT_EQ(out.actions(0).actor(), "anonymous");
  }
  Watcher second(*alerts_, cursor);
  for (int i = 12; i < 15; ++i) Send(agent, {panic(i)});
  ASSERT_TRUE(cit::test::WaitFor([&] { return second.size() >= 11; }));
  for (const auto& e : second.events()) seen.push_back(e);
  std::set<uint64_t> ids;
  for (const auto& e : seen) EXPECT_TRUE(ids.insert(e.event_id()).second) << e.event_id();
  EXPECT_EQ(ids.size(), 16u);  // 15 raises + 1 acknowledgement
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), 16u);
  std::set<std::string> sources;
  for (const auto& e : seen) sources.insert(e.alert().subject());
  EXPECT_EQ(sources.size(), 15u);
}

// Every case on SQLite and on a fresh PostgreSQL database (scenario_fixture.h).
INSTANTIATE_TEST_SUITE_P(Backends, ScenarioTest, ::testing::Values("sqlite", "postgresql"),
                         cit::dispatch::test::BackendName);

}  // namespace
}  // namespace cit::dispatch
