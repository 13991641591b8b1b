// `plan check` (issue 13: "a day at 1 Hz in well under a second"): a 86,400-fix track judged
// against a plan by HandleCheckPlan, the server's code path of the CheckPlan RPC without gRPC:
// track validation into records, plan validation and compile, a private monitor and alert
// manager over every fix, the stop timeline and the alert list.
//
//   build/ci/bench/plan_check_bench --benchmark_min_time=2
//
// The plan: a straight 172.8 km route of 51 vertices (a day at 2 m/s), three stops, 60 m
// corridor; the drive leaves the corridor once (500 m for 100 s), so one alert is raised and
// cleared. Counters: fixes_per_s, and evaluate_ms (the rule engine alone, as the server
// reports it in CheckPlanResponse.evaluate_s).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>

#include "dispatch-server/common/clock.h"
#include "dispatch-server/plancheck/plans_service.h"

namespace cit::dispatch {
namespace {

constexpr double kLat = 47.37;
constexpr double kLon0 = 8.5;
constexpr int64_t kStart = 1'768'464'000;
constexpr int kDay = 86'400;
constexpr double kSpeedMps = 2.0;

cit::v1::Position Pos(double x_m, double y_m) {
  cit::v1::Position p;
  p.set_lat_deg(kLat + y_m / 111'132.95);
  p.set_lon_deg(kLon0 + x_m / (111'319.49 * std::cos(kLat * M_PI / 180.0)));
  return p;
}

cit::v1::CheckPlanRequest DayRequest() {
  cit::v1::CheckPlanRequest req;
  cit::v1::RunPlan* plan = req.mutable_plan();
  plan->set_run_id("R-DAY");
  plan->set_vehicle_id("CIT-0042");
  const double length_m = kDay * kSpeedMps;
  for (int i = 0; i <= 50; ++i) *plan->mutable_route()->add_points() = Pos(length_m * i / 50, 0);
  plan->mutable_route()->set_corridor_half_width_m(60);
  for (int s = 0; s < 3; ++s) {
    cit::v1::Stop* stop = plan->add_stops();
    stop->set_stop_id("S" + std::to_string(s + 1));
    *stop->mutable_position() = Pos(length_m * s / 2, 0);
    stop->set_radius_m(40);
    *stop->mutable_arrival_latest() = ToProto(FromUnixSeconds(kStart + kDay * s / 2.0 + 3600));
  }
  plan->mutable_limits()->set_min_crew(0);
  cit::v1::CheckTrack* t = req.mutable_track();
  for (int i = 0; i < kDay; ++i) {
    const double off = i >= 40'000 && i < 40'100 ? std::min(500.0, (i - 40'000) * 20.0) : 0;
    const cit::v1::Position p = Pos(i * kSpeedMps, off);
    t->add_time_unix_ms((kStart + i) * 1000);
    t->add_lat_deg(p.lat_deg());
    t->add_lon_deg(p.lon_deg());
  }
  return req;
}

void BM_PlanCheckDayAt1Hz(benchmark::State& state) {
  const cit::v1::CheckPlanRequest req = DayRequest();
  const PlansServiceDeps deps;
  double evaluate_s = 0;
  for (auto _ : state) {
    absl::StatusOr<cit::v1::CheckPlanResponse> r = HandleCheckPlan(deps, req);
    if (!r.ok() || r->fixes() != static_cast<uint64_t>(kDay)) {
      state.SkipWithError("plan check failed");
      return;
    }
    evaluate_s += r->evaluate_s();
    benchmark::DoNotOptimize(r);
  }
  state.counters["fixes_per_s"] = benchmark::Counter(static_cast<double>(kDay) * state.iterations(),
                                                     benchmark::Counter::kIsRate);
  state.counters["evaluate_ms"] = 1000 * evaluate_s / std::max<double>(1, state.iterations());
}
BENCHMARK(BM_PlanCheckDayAt1Hz)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace cit::dispatch

BENCHMARK_MAIN();
