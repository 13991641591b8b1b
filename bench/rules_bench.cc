// In-process rule engine throughput (DESIGN §12: >= 1M fixes/s per core): 1,000 vehicles, each
// on a dispatched run with a 500-vertex route and 20 stops, fed fixes round-robin through
// Monitor::Process (corridor match, stop zones, motion, every rule), one thread.
//
//   build/dev/bench/rules_bench --benchmark_min_time=3
//
// Two cases: every run compiled separately (1,000 corridors: the working set exceeds the CPU
// caches, so each corridor query misses), and one compiled route shared by all runs.
//
// Records are reused per vehicle and mutated in place (as the ingest hands over decoded
// records), so the measured path is the monitor's own: no allocation per fix.
//
// Counters: corridor_kb (memory of one compiled corridor), hint_hit_pct (share of the drive's
// corridor queries answered from the per-vehicle hint rather than the grid, measured by driving
// the track once through the corridor the way the monitor does).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/plans/run_manager.h"

namespace cit::dispatch {
namespace {

constexpr int kVehicles = 1000;
constexpr int kRouteVertices = 500;
constexpr int kStops = 20;
constexpr double kStepM = 5.0;  // metres per fix (5 m/s at 1 Hz)

struct Fleet {
  FakeClock clock{FromUnixSeconds(1'796'000'000)};
  AlertManager alerts{nullptr, &clock, 10'000};
  RunManager runs{nullptr, &clock};
  Monitor monitor{&alerts, &clock};
  std::vector<cit::v1::Position> track;  // positions every kStepM along the route, with noise
  std::vector<CommittedRecord> records;  // one per vehicle, mutated per fix
  std::vector<size_t> cursor;            // per vehicle: index into track
  int64_t tick = 0;
  double corridor_kb = 0;
  double hint_hit_pct = 0;

  // shared_route: every vehicle's run uses one compiled plan (a route template served by many
  // trucks); otherwise each run is compiled separately (1,000 corridors, ~0.4 MB each).
  explicit Fleet(bool shared_route) {
    // A winding 500-vertex route, ~50 km: 100 m legs turning gently left and right.
    std::vector<cit::v1::Position> route;
    double lat = 47.3, lon = 8.5, heading = 0.3;
    const double m_lat = 111'132.0, m_lon = 111'132.0 * std::cos(lat * M_PI / 180);
    for (int i = 0; i < kRouteVertices; ++i) {
      cit::v1::Position p;
      p.set_lat_deg(lat);
      p.set_lon_deg(lon);
      route.push_back(p);
      heading += 0.25 * std::sin(i * 0.05);
      lat += 100 * std::cos(heading) / m_lat;
      lon += 100 * std::sin(heading) / m_lon;
    }
    // The drive: every kStepM along the legs, +-4 m lateral noise.
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> noise(-4, 4);
    for (int i = 0; i + 1 < kRouteVertices; ++i) {
      const auto& a = route[i];
      const auto& b = route[i + 1];
      for (double f = 0; f < 1.0; f += kStepM / 100.0) {
        cit::v1::Position p;
        p.set_lat_deg(a.lat_deg() + f * (b.lat_deg() - a.lat_deg()) + noise(rng) / m_lat);
        p.set_lon_deg(a.lon_deg() + f * (b.lon_deg() - a.lon_deg()) + noise(rng) / m_lon);
        track.push_back(p);
      }
    }
    for (int v = 0; v < kVehicles; ++v) {
      cit::v1::RunPlan plan;
      plan.set_run_id("R-" + std::to_string(v));
      plan.set_vehicle_id("CIT-" + std::to_string(v));
      for (const auto& p : route) *plan.mutable_route()->add_points() = p;
      plan.mutable_route()->set_corridor_half_width_m(50);
      for (int s = 0; s < kStops; ++s) {
        cit::v1::Stop* stop = plan.add_stops();
        stop->set_stop_id("S" + std::to_string(s));
        *stop->mutable_position() = route[s * (kRouteVertices / kStops) + 10];
        stop->set_radius_m(30);
        stop->set_max_dwell_s(900);
        stop->set_doors_may_open(true);
      }
      if (!runs.Create(plan, "bench").ok() || !runs.Dispatch(plan.run_id(), "bench").ok()) {
        std::abort();
      }
      CommittedRecord r;
      r.vehicle_id = plan.vehicle_id();
      r.record.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
      r.record.mutable_fix()->set_speed_mps(kStepM);
      r.record.mutable_fix()->set_eph_m(3.0);
      r.record.mutable_event_time()->set_seconds(0);
      records.push_back(std::move(r));
      // Vehicles start spread over the first half of the route.
      cursor.push_back((static_cast<size_t>(v) * 7919) % (track.size() / 2));
    }
    std::shared_ptr<const CompiledRun> shared;
    const std::vector<RunChange> live = runs.LiveRuns();
    if (!live.empty()) {
      const geo::Corridor& corridor = *live.front().compiled->corridor;
      corridor_kb = static_cast<double>(corridor.memory_bytes()) / 1024.0;
      geo::Corridor::Hint hint;
      std::optional<double> progress;
      for (const cit::v1::Position& p : track) {
        progress = corridor
                       .Locate(*geo::LonLat::Create(geo::Longitude{p.lon_deg()},
                                                    geo::Latitude{p.lat_deg()}),
                               progress, hint)
                       .progress_m;
      }
      hint_hit_pct = 100.0 * hint.hits / std::max<double>(1.0, hint.hits + hint.misses);
    }
    for (RunChange c : live) {
      if (shared_route) {
        if (!shared) shared = c.compiled;
        c.compiled = shared;
      }
      monitor.OnRunChanged(c);
    }
    monitor.RunOnce();
  }

  // One round: one fix per vehicle, then the clock moves one second and deadlines are checked.
  void Round() {
    ++tick;
    const SysTime now = FromUnixSeconds(1'796'000'000) + std::chrono::seconds(tick);
    clock.Set(now);
    const int64_t secs = 1'796'000'000 + tick;
    for (int v = 0; v < kVehicles; ++v) {
      CommittedRecord& r = records[v];
      size_t& c = cursor[v];
      if (++c >= track.size()) c = 0;
      cit::v1::Fix* fix = r.record.mutable_fix();
      fix->set_lat_deg(track[c].lat_deg());
      fix->set_lon_deg(track[c].lon_deg());
      r.record.set_seq(r.record.seq() + 1);
      r.record.mutable_event_time()->set_seconds(secs);
      monitor.Process(r);
    }
    monitor.Tick();
  }
};

void BM_RuleEngine(benchmark::State& state) {
  static Fleet* fleets[2] = {nullptr, nullptr};
  const int shared = static_cast<int>(state.range(0));
  if (fleets[shared] == nullptr) fleets[shared] = new Fleet(shared != 0);
  Fleet* fleet = fleets[shared];
  for (auto _ : state) fleet->Round();
  state.SetItemsProcessed(state.iterations() * kVehicles);
  state.counters["fixes_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kVehicles, benchmark::Counter::kIsRate);
  state.counters["alert_events"] = static_cast<double>(fleet->alerts.last_event_id());
  state.counters["corridor_kb"] = fleet->corridor_kb;
  state.counters["hint_hit_pct"] = fleet->hint_hit_pct;
}
// Arg 0: 1,000 distinct corridors (one per run); Arg 1: one corridor shared by all runs.
BENCHMARK(BM_RuleEngine)->Arg(0)->Arg(1)->ArgName("shared_route")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cit::dispatch

BENCHMARK_MAIN();
