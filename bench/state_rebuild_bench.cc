// Start-up time of a restarted server with live runs (issue 12 §1): generates a database with
// `--runs` dispatched runs, each with `--hours` of 1 Hz history (a 500-vertex route, 20 stops
// with a dwell and a door opening each, crew check-ins at the depot, one detour), then opens it
// as dispatch-server does (RunMonitoring: plans compiled, every live run's monitor state rebuilt
// from the store on the rebuild's worker threads) and reports how long each part took.
//
// While generating, the records also go through a live Monitor with a snapshot writer, as in a
// server that ran: the file holds each run's last monitor snapshot (every `--snapshot-s`, default
// 300 s, so up to 5 minutes of records after it). `--no-snapshots` measures the start-up without
// them (the whole-run replay every run falls back to when its snapshot is unusable).
//
//   build/ci/bench/state_rebuild_bench --runs 100 --hours 8            # generate + measure
//   build/ci/bench/state_rebuild_bench --runs 100 --hours 8 --db x.db  # keep / reuse the file
//   build/ci/bench/state_rebuild_bench --db x.db --no-snapshots        # whole-run replay
//   build/ci/bench/state_rebuild_bench --db x.db --compile-threads 1   # plans on one thread
//   build/ci/bench/state_rebuild_bench --runs 1000 --hours 8 --compile-only  # no database:
//       compile the same plans in memory, report wall and CPU time (per plan and total)
//
// Not a Google Benchmark (one start-up is the measurement, the database takes minutes to make);
// no alert history is stored, so every re-evaluated signal goes through the gate unmatched.
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "dispatch-server/monitor/snapshot_writer.h"
#include "dispatch-server/server/run_monitoring.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "dispatch-server/store/sqlite_snapshot_store.h"
#include "dispatch-server/store/sqlite_store.h"
#include "spdlog/spdlog.h"

namespace {

using cit::dispatch::FakeClock;
using cit::dispatch::FromSeconds;
using cit::dispatch::SysTime;

constexpr double kLat0 = 47.0;
constexpr double kLon0 = 8.0;
constexpr double kMPerDegLat = 111'132.0;
const double kMPerDegLon = 111'132.0 * std::cos(kLat0 * M_PI / 180.0);
constexpr double kSpeedMps = 8.0;
constexpr int kStops = 20;
constexpr double kDwellS = 300;

// A zig-zag route of 500 vertices: x east along the route, small north offsets. Vehicles are
// laid out 100 to a column, 5 km apart, columns 250 km apart (all within valid latitudes).
struct Route {
  std::vector<std::pair<double, double>> xy;  // metres
  double length_m = 0;
};

Route MakeRoute(double length_m, int vehicle) {
  Route r;
  const int n = 500;
  for (int i = 0; i < n; ++i) {
    const double x = length_m * i / (n - 1) + (vehicle / 100) * 250'000.0;
    const double y = 300.0 * std::sin(i * 0.37 + vehicle) + (vehicle % 100) * 5000.0;
    r.xy.emplace_back(x, y);
  }
  for (int i = 1; i < n; ++i) {
    r.length_m +=
        std::hypot(r.xy[i].first - r.xy[i - 1].first, r.xy[i].second - r.xy[i - 1].second);
  }
  return r;
}

// Position after `d` metres along the route.
std::pair<double, double> Along(const Route& r, double d) {
  for (size_t i = 1; i < r.xy.size(); ++i) {
    const double seg =
        std::hypot(r.xy[i].first - r.xy[i - 1].first, r.xy[i].second - r.xy[i - 1].second);
    if (d <= seg) {
      const double f = seg > 0 ? d / seg : 0;
      return {r.xy[i - 1].first + f * (r.xy[i].first - r.xy[i - 1].first),
              r.xy[i - 1].second + f * (r.xy[i].second - r.xy[i - 1].second)};
    }
    d -= seg;
  }
  return r.xy.back();
}

cit::v1::Position Pos(std::pair<double, double> xy) {
  cit::v1::Position p;
  p.set_lat_deg(kLat0 + xy.second / kMPerDegLat);
  p.set_lon_deg(kLon0 + xy.first / kMPerDegLon);
  return p;
}

// Run `v`'s plan: its route (driving time plus the dwells cover `hours`: the route's length,
// and so its corridor's size, depends on the hours), 20 stops spread along it.
struct BenchPlan {
  cit::v1::RunPlan plan;
  Route route;
  std::vector<double> stop_at;  // metres along the route
};

BenchPlan MakePlan(int v, double hours, SysTime start) {
  const double duration_s = hours * 3600;
  const double drive_m = kSpeedMps * (duration_s - kStops * kDwellS - 600);
  BenchPlan bp;
  const std::string vehicle = "BENCH-" + std::to_string(1000 + v);
  bp.route = MakeRoute(drive_m * 0.999, v);
  cit::v1::RunPlan& plan = bp.plan;
  plan.set_run_id("R-" + vehicle);
  plan.set_vehicle_id(vehicle);
  for (const auto& xy : bp.route.xy) *plan.mutable_route()->add_points() = Pos(xy);
  plan.mutable_route()->set_corridor_half_width_m(60);
  for (int s = 0; s < kStops; ++s) {
    const double d = bp.route.length_m * (s + 1) / (kStops + 1);
    bp.stop_at.push_back(d);
    cit::v1::Stop* stop = plan.add_stops();
    stop->set_stop_id("S" + std::to_string(s + 1));
    *stop->mutable_position() = Pos(Along(bp.route, d));
    stop->set_radius_m(50);
    stop->set_max_dwell_s(kDwellS + 120);
    stop->set_doors_may_open(true);
    stop->set_crew_check_in_required(true);
    *stop->mutable_arrival_latest() = cit::dispatch::ToProto(start + FromSeconds(duration_s * 2));
  }
  return bp;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

int Generate(const std::filesystem::path& db, int runs, double hours, SysTime start,
             double snapshot_s) {
  const auto t0 = std::chrono::steady_clock::now();
  auto run_store = cit::dispatch::SqliteRunStore::Open(db);
  auto store = cit::dispatch::SqliteStore::Open(
      db, {.durability = cit::dispatch::sqlite::Durability::kNormal});
  auto snapshot_store = cit::dispatch::SqliteSnapshotStore::Open(db);
  if (!run_store.ok() || !store.ok() || !snapshot_store.ok()) {
    std::fprintf(stderr, "open failed\n");
    return 1;
  }
  FakeClock clock(start);
  cit::dispatch::RunManager manager(run_store->get(), &clock);
  if (!manager.Load().ok()) return 1;
  // The server that "ran": every record evaluated live, snapshots written as it goes.
  cit::dispatch::AlertManager alerts(nullptr, &clock);
  if (!alerts.Load().ok()) return 1;
  cit::dispatch::SnapshotWriter writer(std::move(*snapshot_store), &alerts);
  cit::dispatch::MonitorOptions monitor_options;
  monitor_options.snapshot_interval_s = snapshot_s;
  // One monitor per run: every run starts at `start`, and a monitor's clock never goes back.
  std::unique_ptr<cit::dispatch::Monitor> monitor;
  manager.SetListener([&monitor](const cit::dispatch::RunChange& c) { monitor->OnRunChanged(c); });
  const double duration_s = hours * 3600;
  uint64_t total = 0;
  for (int v = 0; v < runs; ++v) {
    BenchPlan bp = MakePlan(v, hours, start);
    const cit::v1::RunPlan& plan = bp.plan;
    const std::string& vehicle = plan.vehicle_id();
    const Route& route = bp.route;
    const std::vector<double>& stop_at = bp.stop_at;
    clock.Set(start);
    monitor = std::make_unique<cit::dispatch::Monitor>(&alerts, &clock, monitor_options);
    monitor->SetSnapshotSink(
        [&writer](cit::dispatch::StoredSnapshot s) { writer.Post(std::move(s)); });
    if (!manager.Create(plan, "bench").ok() || !manager.Dispatch(plan.run_id(), "bench").ok()) {
      std::fprintf(stderr, "plan %s refused\n", plan.run_id().c_str());
      return 1;
    }
    monitor->RunOnce();  // the dispatch reaches the monitor before the records
    cit::dispatch::AppendBatch batch;
    uint64_t seq = 0;
    auto add = [&](double t_s, cit::v1::Record r) {
      r.set_seq(++seq);
      *r.mutable_event_time() = cit::dispatch::ToProto(start + FromSeconds(t_s));
      *r.mutable_agent_time() = r.event_time();
      r.set_agent_monotonic_ns(static_cast<int64_t>(t_s * 1e9));
      batch.records.push_back(cit::dispatch::CommittedRecord{
          vehicle, std::move(r),
          std::chrono::time_point_cast<std::chrono::system_clock::duration>(
              start + FromSeconds(t_s + 0.4))});
    };
    auto flush = [&] {
      if (batch.records.empty()) return true;
      total += batch.records.size();
      for (const cit::dispatch::CommittedRecord& r : batch.records) {
        const SysTime received =
            std::chrono::time_point_cast<cit::dispatch::Duration>(r.server_received_time);
        if (clock.Now() < received) {
          clock.Set(received);
          monitor->Tick();
        }
        monitor->Process(r);
      }
      const bool ok = (*store)->Append(batch).ok();
      batch.records.clear();
      return ok;
    };
    double d = 0;  // along the route
    size_t next_stop = 0;
    double dwell_left = 0;
    for (int t = 1; t <= static_cast<int>(duration_s); ++t) {
      if (t == 30 || t == 60) {
        cit::v1::Record crew;
        crew.mutable_crew()->set_badge_id(t == 30 ? "B-1" : "B-2");
        crew.mutable_crew()->set_action(cit::v1::CREW_ACTION_CHECK_IN);
        add(t - 0.5, std::move(crew));
      }
      double speed = 0;
      if (t > 300) {
        if (dwell_left > 0) {
          dwell_left -= 1;
          if (dwell_left == kDwellS - 60 || dwell_left == kDwellS - 120) {
            cit::v1::Record door;
            door.mutable_door()->set_door(1);
            door.mutable_door()->set_state(dwell_left == kDwellS - 60 ? cit::v1::DOOR_STATE_OPEN
                                                                      : cit::v1::DOOR_STATE_CLOSED);
            add(t - 0.5, std::move(door));
          }
        } else if (d < route.length_m) {
          d = std::min(route.length_m, d + kSpeedMps);
          speed = kSpeedMps;
          if (next_stop < stop_at.size() && d >= stop_at[next_stop]) {
            d = stop_at[next_stop];
            ++next_stop;
            dwell_left = kDwellS;
          }
        }
      }
      auto xy = Along(route, d);
      // One detour of 10 minutes, 400 m off the route, half way.
      if (t > duration_s / 2 && t < duration_s / 2 + 600) xy.second += 400;
      cit::v1::Record fix;
      const cit::v1::Position p = Pos(xy);
      fix.mutable_fix()->set_lat_deg(p.lat_deg());
      fix.mutable_fix()->set_lon_deg(p.lon_deg());
      fix.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
      fix.mutable_fix()->set_speed_mps(speed);
      fix.mutable_fix()->set_eph_m(4);
      add(t, std::move(fix));
      if (batch.records.size() >= 5000 && !flush()) return 1;
    }
    if (!flush()) return 1;
    monitor->RunOnce();
    if ((v + 1) % 10 == 0) {
      std::fprintf(stderr, "generated %d runs, %llu records, %.0f s\n", v + 1,
                   static_cast<unsigned long long>(total),
                   Seconds(std::chrono::steady_clock::now() - t0));
    }
  }
  writer.Stop();
  std::printf("generate: runs=%d records=%llu snapshots_written=%llu seconds=%.1f\n", runs,
              static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(writer.written()),
              Seconds(std::chrono::steady_clock::now() - t0));
  return 0;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The plan compile alone, in memory: the same `runs` plans as Generate makes, each through
// CompileRun as RunManager::CompilePending does at start-up, on `threads` threads. CPU time is
// per thread (CLOCK_THREAD_CPUTIME_ID), so it is what the compile itself costs, much less
// sensitive to the load than the wall time.
int CompileOnly(int runs, double hours, int threads) {
  const SysTime start = cit::dispatch::SystemClock().Now() - FromSeconds(hours * 3600 + 10);
  std::vector<cit::v1::Run> plans;
  for (int v = 0; v < runs; ++v) {
    cit::v1::Run run;
    *run.mutable_plan() = MakePlan(v, hours, start).plan;
    run.set_state(cit::v1::RUN_STATE_DISPATCHED);
    run.set_version(1);
    plans.push_back(std::move(run));
  }
  std::vector<std::shared_ptr<const cit::dispatch::CompiledRun>> compiled(plans.size());
  std::vector<double> cpu(static_cast<size_t>(threads), 0.0);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  const auto t0 = std::chrono::steady_clock::now();
  auto work = [&](int t) {
    const double c0 = ThreadCpuSeconds();
    for (size_t i = next++; i < plans.size(); i = next++) {
      auto c = cit::dispatch::CompileRun(plans[i]);
      if (!c.ok()) {
        std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
        failed = true;
        return;
      }
      compiled[i] = *std::move(c);
    }
    cpu[static_cast<size_t>(t)] = ThreadCpuSeconds() - c0;
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& t : pool) t.join();
  const double wall = Seconds(std::chrono::steady_clock::now() - t0);
  if (failed) return 1;
  double cpu_total = 0;
  for (double c : cpu) cpu_total += c;
  size_t bytes = 0;
  for (const auto& c : compiled) bytes += c->corridor->memory_bytes();
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf(
      "compile-only: plans=%d hours=%g threads=%d nproc=%ld loadavg=%.2f wall=%.3f s "
      "cpu=%.3f s cpu_per_plan=%.2f ms corridor_mb=%.1f\n",
      runs, hours, threads, sysconf(_SC_NPROCESSORS_ONLN), load[0], wall, cpu_total,
      1e3 * cpu_total / runs, static_cast<double>(bytes) / (1 << 20));
  return 0;
}

int Measure(const std::filesystem::path& db, int threads, int compile_threads, bool use_snapshots) {
  cit::dispatch::SystemClock clock;
  const auto t0 = std::chrono::steady_clock::now();
  cit::dispatch::RunMonitoringOptions o;
  o.database_path = db;
  o.rebuild.threads = threads;
  o.rebuild.use_snapshots = use_snapshots;
  o.compile_threads = compile_threads;
  // This start-up writes none (its own would replace the generated ones).
  o.monitor.snapshot_interval_s = 0;
  auto rm = cit::dispatch::RunMonitoring::Open(o, &clock);
  if (!rm.ok()) {
    std::fprintf(stderr, "%s\n", rm.status().ToString().c_str());
    return 1;
  }
  const auto t_open = std::chrono::steady_clock::now();
  const size_t runs = (*rm)->rebuilding();
  (*rm)->Start();  // compile thread (publishes each plan), rebuild workers, monitor thread
  while ((*rm)->runs().compiling() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto t_compiled = std::chrono::steady_clock::now();
  while ((*rm)->rebuilding() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  (*rm)->monitor().Flush();
  const auto t_done = std::chrono::steady_clock::now();
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf(
      "start-up: live_runs=%zu from_snapshot=%llu full_replays=%llu rebuild_threads=%d "
      "compile_threads=%d nproc=%ld "
      "loadavg=%.2f open=%.2f s plans_compiled_at=%.2f s all_rebuilt_at=%.2f s (records "
      "re-evaluated: see event=state_rebuild_done)\n",
      runs, static_cast<unsigned long long>((*rm)->rebuilder().from_snapshot()),
      static_cast<unsigned long long>((*rm)->rebuilder().full_replays()), threads, compile_threads,
      sysconf(_SC_NPROCESSORS_ONLN), load[0], Seconds(t_open - t0), Seconds(t_compiled - t0),
      Seconds(t_done - t0));
  (*rm)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 100;
  double hours = 8;
  int threads = 2;
  int compile_threads = 2;
  double snapshot_s = 300;
  bool use_snapshots = true;
  bool compile_only = false;
  std::filesystem::path db;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-snapshots") {
      use_snapshots = false;
      continue;
    }
    if (flag == "--compile-only") {
      compile_only = true;
      continue;
    }
    if (i + 1 >= argc) break;
    const char* value = argv[++i];
    if (flag == "--runs") runs = std::atoi(value);
    if (flag == "--hours") hours = std::atof(value);
    if (flag == "--threads") threads = std::atoi(value);
    if (flag == "--compile-threads") compile_threads = std::atoi(value);
    if (flag == "--snapshot-s") snapshot_s = std::atof(value);
    if (flag == "--db") db = value;
  }
  spdlog::set_level(spdlog::level::warn);
  if (compile_only) return CompileOnly(runs, hours, compile_threads);
  const bool temporary = db.empty();
  if (temporary) {
    db = std::filesystem::temp_directory_path() /
         ("cit-rebuild-bench-" + std::to_string(::getpid()) + ".db");
  }
  if (!std::filesystem::exists(db)) {
    // History that ended 10 s ago: the runs are still live.
    const SysTime start = cit::dispatch::SystemClock().Now() - FromSeconds(hours * 3600 + 10);
    if (int rc = Generate(db, runs, hours, start, snapshot_s); rc != 0) return rc;
  }
  spdlog::set_level(spdlog::level::info);
  const int rc = Measure(db, threads, compile_threads, use_snapshots);
  if (temporary) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(db.string() + suffix);
    }
  }
  return rc;
}
