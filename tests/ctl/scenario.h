// A fixed run scenario shared by the audit tests: a 2 km route due east with three stops, a
// truck that calls at S1, leaves the corridor by ~330 m for 60 s, opens a door away from any stop,
// calls at S2 and never reaches S3. All times on 2026-01-15 (UTC).
//
//   cit::v1::Run run = scenario::MakeRun();
//   std::vector<cit::v1::Record> records = scenario::MakeRecords();
//
// Thread contract: pure functions.
#ifndef CIT_TESTS_CTL_SCENARIO_H_
#define CIT_TESTS_CTL_SCENARIO_H_

#include <cmath>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "tests/ctl/ctl_fixtures.h"

namespace cit::test::scenario {

inline constexpr char kVehicle[] = "CIT-0001";
inline constexpr char kRun[] = "2026-01-15-ZH-07";
inline constexpr double kLat = 47.3700;
inline constexpr double kLon0 = 8.5000;
// Degrees of longitude per metre at kLat.
inline double LonPerM() { return 1.0 / (111319.49 * std::cos(kLat * M_PI / 180.0)); }
inline double LatPerM() { return 1.0 / 111132.95; }

// The fixed start of the in-process tests; the end-to-end test starts the scenario shortly
// before "now" instead, because the server's deadline rules run on its own clock.
inline google::protobuf::Timestamp Start() { return T("2026-01-15T08:00:00Z"); }

inline cit::v1::Run MakeRun(const google::protobuf::Timestamp& start = Start()) {
  cit::v1::Run run;
  cit::v1::RunPlan* p = run.mutable_plan();
  p->set_run_id(kRun);
  p->set_vehicle_id(kVehicle);
  p->add_crew_badges("B-100");
  p->add_crew_badges("B-200");
  *p->mutable_planned_start() = start;
  *p->mutable_planned_end() = Plus(start, 3600);
  p->mutable_route()->set_corridor_half_width_m(100);
  for (double x : {0.0, 1000.0, 2000.0}) {
    *p->mutable_route()->add_points() = Pos(kLat, kLon0 + x * LonPerM());
  }
  struct S {
    const char* id;
    const char* name;
    double x_m;
    double earliest_s;
    double latest_s;
  };
  for (S s :
       {S{"S1", "Depot Zurich", 0, -600, 1200}, S{"S2", "Branch Bahnhofstrasse", 1000, 60, 400},
        S{"S3", "ATM Paradeplatz", 2000, 600, 900}}) {
    cit::v1::Stop* stop = p->add_stops();
    stop->set_stop_id(s.id);
    stop->set_name(s.name);
    *stop->mutable_position() = Pos(kLat, kLon0 + s.x_m * LonPerM());
    stop->set_radius_m(50);
    *stop->mutable_arrival_earliest() = Plus(start, s.earliest_s);
    *stop->mutable_arrival_latest() = Plus(start, s.latest_s);
    stop->set_max_dwell_s(600);
    stop->set_doors_may_open(true);
  }
  run.set_state(cit::v1::RUN_STATE_ABORTED);
  run.set_version(2);
  *run.mutable_created_time() = Plus(start, -3600);
  *run.mutable_dispatched_time() = Plus(start, -60);
  *run.mutable_ended_time() = Plus(start, 1200);
  run.set_created_by("dora");
  run.set_dispatched_by("dora");
  run.set_ended_by("dora");
  run.set_end_comment("vehicle recalled");
  return run;
}

// Positions along the scenario; t in seconds after Start().
struct Step {
  double t_s;
  double x_m;  // east of the route start
  double y_m;  // north of the route (off route when > 100)
};

inline std::vector<Step> Steps() {
  std::vector<Step> steps;
  // 0..60 s parked at S1, then east at 10 m/s with a detour north between 300 m and 700 m.
  for (int t = 0; t <= 60; t += 10) steps.push_back({double(t), 0, 0});
  const std::vector<std::pair<double, double>> path = {
      {100, 0},   {200, 0},   {300, 0}, {300, 150}, {400, 330}, {500, 330},
      {600, 330}, {700, 150}, {700, 0}, {800, 0},   {900, 0},   {1000, 0}};
  double t = 60;
  for (auto [px, py] : path) {
    t += 10;
    steps.push_back({t, px, py});
  }
  // Dwell at S2 for 120 s, then east to 1500 m and stop reporting (run aborted).
  for (int i = 0; i < 12; ++i) {
    t += 10;
    steps.push_back({t, 1000, 0});
  }
  for (double px = 1100; px <= 1500; px += 100) {
    t += 10;
    steps.push_back({t, px, 0});
  }
  return steps;
}

inline std::vector<cit::v1::Record> MakeRecords(
    const google::protobuf::Timestamp& start = Start()) {
  std::vector<cit::v1::Record> out;
  uint64_t seq = 0;
  for (const Step& s : Steps()) {
    out.push_back(FixRecord(kVehicle, ++seq, Plus(start, s.t_s), kLat + s.y_m * LatPerM(),
                            kLon0 + s.x_m * LonPerM()));
    // Door opened while off route (400 m east, 330 m north): not at any stop.
    if (s.t_s == 110) {
      out.push_back(DoorRecord(kVehicle, ++seq, Plus(start, 112), true));
      out.push_back(DoorRecord(kVehicle, ++seq, Plus(start, 115), false));
    }
    // Door opened at S2 during the dwell.
    if (s.t_s == 200) {
      out.push_back(DoorRecord(kVehicle, ++seq, Plus(start, 205), true));
      out.push_back(DoorRecord(kVehicle, ++seq, Plus(start, 260), false));
    }
  }
  return out;
}

}  // namespace cit::test::scenario

#endif  // CIT_TESTS_CTL_SCENARIO_H_
