// One scripted escort run, second by second, shared by the tests that stop, restart or move the
// monitoring of a truck mid-run and compare the outcome with an uninterrupted run
// (state_rebuild_test: restarts; ownership_takeover_test: takeovers between instances).
//
// The run: a stop with a door opening and a dwell, a seal broken en route, a deviation with a
// door opened off route, a stop reached after its window, a GNSS outage at a stop with its dwell
// exceeded. With `crew_and_dispatch`, the crew checks in at the depot and the run is dispatched
// by a step of the script (stops then require a crew check-in); without, the run is planned and
// dispatched before the script starts.
//
//   const std::vector<ScriptStep> script = scripted::Script({.crew_and_dispatch = true});
//   size_t i = scripted::StepAt(script, 410);      // first step at or after t = 410 s
//   scripted::ExpectSameState(before, after);      // rebuilt monitor state == the original
#ifndef CIT_TESTS_DISPATCH_SCRIPTED_RUN_H_
#define CIT_TESTS_DISPATCH_SCRIPTED_RUN_H_

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "dispatch-server/rules/vehicle_state.h"
#include "tests/dispatch/monitor_harness.h"

namespace cit::dispatch::test::scripted {

inline constexpr char kVehicle[] = "truck-7";
inline constexpr char kRun[] = "run-1";
// Well before the real clock: every scripted record counts as received before a restart or a
// takeover.
inline const SysTime kBase = FromUnixSeconds(1'700'000'000);

inline SysTime At_s(double t_s) { return kBase + FromSeconds(t_s); }

// One step of the script: at t_s, a record, the dispatch, or only the clock moving.
struct ScriptStep {
  double t_s = 0;
  std::optional<cit::v1::Record> record;
  bool dispatch = false;
};

struct ScriptShape {
  bool crew_and_dispatch = false;
};

inline cit::v1::Record FixRecord(double x_m, double y_m, double speed_mps,
                                 cit::v1::FixMode mode = cit::v1::FIX_MODE_3D) {
  cit::v1::Record r;
  const cit::v1::Position p = At(x_m, y_m);
  r.mutable_fix()->set_lat_deg(p.lat_deg());
  r.mutable_fix()->set_lon_deg(p.lon_deg());
  r.mutable_fix()->set_mode(mode);
  r.mutable_fix()->set_speed_mps(speed_mps);
  return r;
}
inline cit::v1::Record DoorRecord(uint32_t door, bool open) {
  cit::v1::Record r;
  r.mutable_door()->set_door(door);
  r.mutable_door()->set_state(open ? cit::v1::DOOR_STATE_OPEN : cit::v1::DOOR_STATE_CLOSED);
  return r;
}
inline cit::v1::Record SealRecord(uint32_t seal, bool broken) {
  cit::v1::Record r;
  r.mutable_seal()->set_seal(seal);
  r.mutable_seal()->set_state(broken ? cit::v1::SEAL_STATE_BROKEN : cit::v1::SEAL_STATE_INTACT);
  return r;
}
inline cit::v1::Record CrewRecord(const std::string& badge) {
  cit::v1::Record r;
  r.mutable_crew()->set_badge_id(badge);
  r.mutable_crew()->set_action(cit::v1::CREW_ACTION_CHECK_IN);
  return r;
}

// Depot D at 0 m, S1 at 3 km (by t = 600, dwell 300 s), S2 at 6 km (by t = 700, dwell 100 s),
// S3 at 9 km (by t = 2000), on a straight 10 km route with a 50 m corridor.
inline cit::v1::RunPlan Plan(const ScriptShape& shape) {
  cit::v1::RunPlan plan;
  plan.set_run_id(kRun);
  plan.set_vehicle_id(kVehicle);
  for (int x = 0; x <= 10'000; x += 1'000) *plan.mutable_route()->add_points() = At(x, 0);
  plan.mutable_route()->set_corridor_half_width_m(50);
  auto stop = [&](const std::string& id, double x, std::optional<double> latest_s,
                  double max_dwell_s) {
    cit::v1::Stop* s = MonitorHarness::AddStop(plan, id, x);
    if (latest_s) *s->mutable_arrival_latest() = ToProto(At_s(*latest_s));
    s->set_max_dwell_s(max_dwell_s);
    s->set_doors_may_open(true);
    s->set_crew_check_in_required(shape.crew_and_dispatch);
  };
  stop("D", 0, std::nullopt, 0);
  stop("S1", 3000, 600, 300);
  stop("S2", 6000, 700, 100);
  stop("S3", 9000, 2000, 0);
  return plan;
}

// The run, second by second (index = step number).
inline std::vector<ScriptStep> Script(const ScriptShape& shape) {
  std::vector<ScriptStep> s;
  auto fix = [&](double t, double x, double y, double v,
                 cit::v1::FixMode mode = cit::v1::FIX_MODE_3D) {
    s.push_back({t, FixRecord(x, y, v, mode), false});
  };
  auto rec = [&](double t, cit::v1::Record r) { s.push_back({t, std::move(r), false}); };
  // At the depot (with the crew checking in before the dispatch).
  for (int t = shape.crew_and_dispatch ? 0 : 1; t < 60; ++t) {
    fix(t, 0, 0, 0);
    if (!shape.crew_and_dispatch) continue;
    if (t == 10) rec(t + 0.5, CrewRecord("B-1"));
    if (t == 20) rec(t + 0.5, CrewRecord("B-2"));
    if (t == 30) s.push_back({t + 0.5, std::nullopt, true});
  }
  // Depot -> S1 (on time), 10 m/s.
  for (int t = 60; t <= 360; ++t) fix(t, (t - 60) * 10.0, 0, 10);
  // At S1 for 120 s: door opened and closed.
  for (int t = 361; t <= 480; ++t) {
    fix(t, 3000, 0, 0);
    if (t == 400) rec(t + 0.5, DoorRecord(1, true));
    if (t == 430) rec(t + 0.5, DoorRecord(1, false));
  }
  // On to 4000 m; a seal breaks en route.
  for (int t = 481; t <= 581; ++t) {
    fix(t, 3000 + (t - 480) * 10.0, 0, 10);
    if (t == 520) rec(t + 0.5, SealRecord(1, true));
  }
  // A detour 200 m north of the route (deviation), with a door opened off route.
  for (int t = 582; t <= 682; ++t) {
    fix(t, 4000 + (t - 582) * 10.0, 200, 10);
    if (t == 600) rec(t + 0.5, DoorRecord(2, true));
    if (t == 610) rec(t + 0.5, DoorRecord(2, false));
  }
  // Back on the route to S2, reached after its window closed (t = 700).
  for (int t = 683; t <= 783; ++t) fix(t, 5000 + (t - 683) * 10.0, 0, 10);
  // At S2: the GNSS goes (no usable fix for 40 s) and comes back; the dwell is exceeded.
  for (int t = 784; t <= 900; ++t) {
    const bool lost = t >= 800 && t < 840;
    fix(t, 6000, 0, 0, lost ? cit::v1::FIX_MODE_NO_FIX : cit::v1::FIX_MODE_3D);
  }
  // On to S3.
  for (int t = 901; t <= 1200; ++t) fix(t, 6000 + (t - 900) * 10.0, 0, 10);
  for (int t = 1201; t <= 1260; ++t) fix(t, 9000, 0, 0);
  return s;
}

// The index of the first step at or after t_s.
inline size_t StepAt(const std::vector<ScriptStep>& script, double t_s) {
  for (size_t i = 0; i < script.size(); ++i) {
    if (script[i].t_s >= t_s) return i;
  }
  return script.size();
}

// The step's record as the ingest hands it on after its commit: seq, event time, received at
// the step's time.
inline CommittedRecord Committed(const ScriptStep& step, uint64_t seq) {
  CommittedRecord cr{
      kVehicle, *step.record,
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(At_s(step.t_s))};
  cr.record.set_seq(seq);
  *cr.record.mutable_event_time() = ToProto(At_s(step.t_s));
  return cr;
}

// Every piece of monitor state a rebuild must restore: run, stops, progress, crew, doors,
// seals, deviation, GNSS, link, last fix and motion.
inline void ExpectSameState(const VehicleState& a, const VehicleState& b) {
  ASSERT_EQ(a.run != nullptr, b.run != nullptr);
  if (a.run) {
    EXPECT_EQ(a.run->run_id, b.run->run_id);
    EXPECT_EQ(a.run->version, b.run->version);
  }
  EXPECT_EQ(a.run_state, b.run_state);
  // Stop progress and statuses, arrival and departure times.
  ASSERT_EQ(a.stops.size(), b.stops.size());
  for (size_t i = 0; i < a.stops.size(); ++i) {
    SCOPED_TRACE("stop " + std::to_string(i));
    EXPECT_EQ(a.stops[i].status, b.stops[i].status);
    EXPECT_EQ(a.stops[i].arrived, b.stops[i].arrived);
    EXPECT_EQ(a.stops[i].departed, b.stops[i].departed);
    EXPECT_EQ(a.stops[i].outside_fixes, b.stops[i].outside_fixes);
    EXPECT_EQ(a.stops[i].late, b.stops[i].late);
    EXPECT_EQ(a.stops[i].early, b.stops[i].early);
    EXPECT_EQ(a.stops[i].dwell_alerted, b.stops[i].dwell_alerted);
    EXPECT_EQ(a.stops[i].late_alerted, b.stops[i].late_alerted);
    EXPECT_EQ(a.stops[i].missed_alerted, b.stops[i].missed_alerted);
    EXPECT_EQ(a.stops[i].door_openings, b.stops[i].door_openings);
  }
  EXPECT_EQ(a.current_stop, b.current_stop);
  EXPECT_EQ(a.next_stop, b.next_stop);
  EXPECT_DOUBLE_EQ(a.progress_m, b.progress_m);
  EXPECT_EQ(a.has_progress, b.has_progress);
  EXPECT_DOUBLE_EQ(a.distance_m, b.distance_m);
  EXPECT_EQ(a.corridor_hint.segment, b.corridor_hint.segment);
  // Crew on board.
  EXPECT_EQ(a.crew.on_board, b.crew.on_board);
  EXPECT_EQ(a.crew.active, b.crew.active);
  // Doors and seals.
  EXPECT_EQ(a.doors_open, b.doors_open);
  EXPECT_EQ(a.seals_broken, b.seals_broken);
  EXPECT_EQ(a.highest_seq, b.highest_seq);
  // Deviation, unscheduled stop, wrong direction, overspeed.
  EXPECT_EQ(a.deviation.active, b.deviation.active);
  EXPECT_EQ(a.deviation.off_fixes, b.deviation.off_fixes);
  EXPECT_EQ(a.deviation.in_fixes, b.deviation.in_fixes);
  EXPECT_EQ(a.deviation.off_since, b.deviation.off_since);
  EXPECT_DOUBLE_EQ(a.deviation.max_distance_m, b.deviation.max_distance_m);
  EXPECT_EQ(a.unscheduled_stop.active, b.unscheduled_stop.active);
  EXPECT_EQ(a.wrong_direction.active, b.wrong_direction.active);
  EXPECT_DOUBLE_EQ(a.wrong_direction.max_progress_m, b.wrong_direction.max_progress_m);
  EXPECT_EQ(a.overspeed.active, b.overspeed.active);
  // GNSS and link.
  EXPECT_EQ(a.gnss_state, b.gnss_state);
  EXPECT_EQ(a.gnss_lost.lost, b.gnss_lost.lost);
  EXPECT_EQ(a.gnss_lost.active, b.gnss_lost.active);
  EXPECT_EQ(a.gnss_lost.lost_since, b.gnss_lost.lost_since);
  EXPECT_EQ(a.implausible.active, b.implausible.active);
  EXPECT_EQ(a.comms.active, b.comms.active);
  EXPECT_EQ(a.comms.last_seen_server, b.comms.last_seen_server);
  EXPECT_EQ(a.last_seen_event, b.last_seen_event);
  EXPECT_EQ(a.last_seen_server, b.last_seen_server);
  // Last fix and motion.
  ASSERT_EQ(a.last_fix.has_value(), b.last_fix.has_value());
  if (a.last_fix) {
    EXPECT_EQ(a.last_fix->seq, b.last_fix->seq);
    EXPECT_EQ(a.last_fix_time, b.last_fix_time);
  }
  EXPECT_DOUBLE_EQ(a.typical_speed_mps, b.typical_speed_mps);
  EXPECT_EQ(a.motion.moving, b.motion.moving);
  EXPECT_EQ(a.motion.stopped_since, b.motion.stopped_since);
  EXPECT_EQ(a.motion.frozen, b.motion.frozen);
  EXPECT_EQ(a.moved_without_run.active, b.moved_without_run.active);
}

}  // namespace cit::dispatch::test::scripted

#endif  // CIT_TESTS_DISPATCH_SCRIPTED_RUN_H_
