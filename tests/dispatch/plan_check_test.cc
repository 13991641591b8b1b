// CheckPlan (dispatch-server/plancheck): a plan judged against a track by the server's own rule
// engine with a clock that follows the fix times, storing nothing. A day at 1 Hz (86,400
// fixes) with one planted deviation must give exactly that deviation, at its time, and the
// stop timeline the drive implies; bad tracks are refused naming the row.
#include "dispatch-server/plancheck/plan_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "dispatch-server/common/clock.h"
#include "dispatch-server/plancheck/check_track.h"
#include "dispatch-server/plancheck/plans_service.h"

namespace cit::dispatch {
namespace {

constexpr double kLat = 47.37;
constexpr double kLon0 = 8.5;
constexpr int64_t kStart = 1'768'464'000;  // 2026-01-15T08:00:00Z
constexpr double kSpeedMps = 2.0;
constexpr int kDay = 86'400;

double LonPerM() { return 1.0 / (111'319.49 * std::cos(kLat * M_PI / 180.0)); }
double LatPerM() { return 1.0 / 111'132.95; }

cit::v1::Position Pos(double x_m, double y_m = 0) {
  cit::v1::Position p;
  p.set_lat_deg(kLat + y_m * LatPerM());
  p.set_lon_deg(kLon0 + x_m * LonPerM());
  return p;
}

google::protobuf::Timestamp At(double t_s) { return ToProto(FromUnixSeconds(kStart + t_s)); }

// A straight route east as long as a day's drive at kSpeedMps, with a stop at the start, the
// middle and the end, each with a window the drive keeps.
cit::v1::RunPlan DayPlan() {
  cit::v1::RunPlan plan;
  plan.set_run_id("R-DAY");
  plan.set_vehicle_id("CIT-0042");
  const double length_m = kDay * kSpeedMps;
  for (int i = 0; i <= 50; ++i) *plan.mutable_route()->add_points() = Pos(length_m * i / 50);
  plan.mutable_route()->set_corridor_half_width_m(60);
  struct S {
    const char* id;
    double x_m;
    double reach_s;
  };
  for (S s : {S{"S1", 0, 0}, S{"S2", length_m / 2, kDay / 2.0}, S{"S3", length_m, kDay - 1.0}}) {
    cit::v1::Stop* stop = plan.add_stops();
    stop->set_stop_id(s.id);
    *stop->mutable_position() = Pos(s.x_m);
    stop->set_radius_m(40);
    *stop->mutable_arrival_earliest() = At(s.reach_s - 3600);
    *stop->mutable_arrival_latest() = At(s.reach_s + 3600);
  }
  // Nobody checks in on this synthetic drive: set means "no crew check" (issue 13), unset
  // would be the default 2 and raise CREW_INCOMPLETE at the depot.
  plan.mutable_limits()->set_min_crew(0);
  return plan;
}

// A day at 1 Hz along the route; from kOffFrom it turns north at 20 m/s (a plausible speed:
// a jump would be GNSS_IMPLAUSIBLE) to 500 m off, and from kOffTo back the same way.
constexpr int kOffFrom = 40'000;
constexpr int kOffTo = 40'100;
double OffsetM(int i) {
  if (i < kOffFrom) return 0;
  if (i < kOffTo) return std::min(500.0, (i - kOffFrom) * 20.0);
  return std::max(0.0, 500.0 - (i - kOffTo) * 20.0);
}
cit::v1::CheckTrack DayTrack() {
  cit::v1::CheckTrack t;
  for (int i = 0; i < kDay; ++i) {
    const cit::v1::Position p = Pos(i * kSpeedMps, OffsetM(i));
    t.add_time_unix_ms((kStart + i) * 1000);
    t.add_lat_deg(p.lat_deg());
    t.add_lon_deg(p.lon_deg());
  }
  return t;
}

TEST(PlanCheckTest, DayAtOneHertzRaisesOnlyThePlantedDeviationAtItsTime) {
  cit::v1::CheckPlanRequest req;
  *req.mutable_plan() = DayPlan();
  *req.mutable_track() = DayTrack();
  absl::StatusOr<cit::v1::CheckPlanResponse> r = HandleCheckPlan(PlansServiceDeps{}, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->fixes(), static_cast<uint64_t>(kDay));
  EXPECT_EQ(r->first_fix_time().seconds(), kStart);
  EXPECT_EQ(r->last_fix_time().seconds(), kStart + kDay - 1);
  ASSERT_EQ(r->alerts_size(), 1) << r->DebugString().substr(0, 4000);
  const cit::v1::Alert& a = r->alerts(0);
  EXPECT_EQ(a.kind(), cit::v1::ALERT_KIND_ROUTE_DEVIATION);
  // Raised after >= 2 fixes and >= 10 s off the corridor, in fix time (not server time).
  EXPECT_GE(a.event_time().seconds(), kStart + kOffFrom);
  EXPECT_LE(a.event_time().seconds(), kStart + kOffFrom + 20);
  EXPECT_TRUE(a.has_condition_cleared_time());
  EXPECT_GE(a.condition_cleared_time().seconds(), kStart + kOffTo);
  EXPECT_LE(a.condition_cleared_time().seconds(), kStart + kOffTo + 30);
  // The events: raised then cleared, each stamped with when it happened on the check's clock.
  ASSERT_EQ(r->events_size(), 2);
  EXPECT_EQ(r->events(0).type(), cit::v1::ALERT_EVENT_TYPE_RAISED);
  EXPECT_EQ(r->events(1).type(), cit::v1::ALERT_EVENT_TYPE_CLEARED);
  EXPECT_EQ(r->events(1).alert().detected_time().seconds(), a.condition_cleared_time().seconds());

  ASSERT_EQ(r->stops_size(), 3);
  EXPECT_EQ(r->stops(0).status(), cit::v1::STOP_STATUS_DEPARTED);
  EXPECT_EQ(r->stops(1).status(), cit::v1::STOP_STATUS_DEPARTED);
  // Reached 40 m before its centre, i.e. 20 s before the middle of the day.
  EXPECT_NEAR(static_cast<double>(r->stops(1).arrived().seconds()), kStart + kDay / 2.0 - 20, 2);
  EXPECT_NEAR(r->stops(1).dwell_s(), 40, 3);
  EXPECT_EQ(r->stops(2).status(), cit::v1::STOP_STATUS_ARRIVED);
  for (const cit::v1::StopReport& s : r->stops()) {
    EXPECT_FALSE(s.late()) << s.stop_id();
    EXPECT_FALSE(s.early()) << s.stop_id();
  }
}

TEST(PlanCheckTest, UnsetMinCrewKeepsTheDefaultCrewCheck) {
  cit::v1::RunPlan plan = DayPlan();
  plan.mutable_limits()->clear_min_crew();
  cit::v1::CheckTrack track;
  for (int i = 0; i < 300; ++i) {
    const cit::v1::Position p = Pos(i * 5.0);
    track.add_time_unix_ms((kStart + i) * 1000);
    track.add_lat_deg(p.lat_deg());
    track.add_lon_deg(p.lon_deg());
  }
  cit::v1::CheckPlanRequest req;
  *req.mutable_plan() = plan;
  *req.mutable_track() = track;
  absl::StatusOr<cit::v1::CheckPlanResponse> r = HandleCheckPlan(PlansServiceDeps{}, req);
  ASSERT_TRUE(r.ok()) << r.status();
  bool crew = false;
  for (const cit::v1::Alert& a : r->alerts())
    crew |= a.kind() == cit::v1::ALERT_KIND_CREW_INCOMPLETE;
  EXPECT_TRUE(crew) << "unset min_crew must mean the default (2), not 0";
}

TEST(PlanCheckTest, RefusesTracksThatAreNotInOrderOrOutOfRangeNamingTheRow) {
  cit::v1::CheckTrack t;
  for (int64_t ms : {1000, 2000, 1500}) {
    t.add_time_unix_ms(kStart * 1000 + ms);
    t.add_lat_deg(kLat);
    t.add_lon_deg(kLon0);
  }
  absl::StatusOr<std::vector<cit::v1::Record>> r = TrackRecords(t, "V");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("time_unix_ms[2]"), std::string_view::npos) << r.status();

  t.set_time_unix_ms(2, kStart * 1000 + 3000);
  t.set_lat_deg(1, 95);
  r = TrackRecords(t, "V");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lat_deg[1]"), std::string_view::npos) << r.status();

  t.set_lat_deg(1, kLat);
  t.add_speed_mps(1);  // one speed for three fixes
  r = TrackRecords(t, "V");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("speed_mps"), std::string_view::npos) << r.status();
}

TEST(PlanCheckTest, RefusesMoreThanTheLimitSayingHowMany) {
  cit::v1::CheckTrack t;
  for (std::size_t i = 0; i <= kMaxCheckRecords; ++i) {
    t.add_time_unix_ms((kStart + static_cast<int64_t>(i)) * 1000);
    t.add_lat_deg(kLat);
    t.add_lon_deg(kLon0);
  }
  absl::StatusOr<std::vector<cit::v1::Record>> r = TrackRecords(t, "V");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("100001 fixes; at most 100000"), std::string_view::npos)
      << r.status();
}

TEST(PlanCheckTest, RefusesAnInvalidPlanAsCreateRunWould) {
  cit::v1::CheckPlanRequest req;
  *req.mutable_plan() = DayPlan();
  req.mutable_plan()->mutable_stops(1)->set_radius_m(-1);
  *req.mutable_track() = DayTrack();
  absl::StatusOr<cit::v1::CheckPlanResponse> r = HandleCheckPlan(PlansServiceDeps{}, req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("stops[1].radius_m"), std::string_view::npos) << r.status();
}

}  // namespace
}  // namespace cit::dispatch
