// vehicle-agent micro-benchmarks (journal append + fsync, journal read-back, fix tracking) and a
// journal filler for the backlog-drain benchmark (bench/agent_drain.sh):
//
//   agent_bench                                   # Google Benchmark cases
//   agent_bench --fill-journal DIR N VEHICLE      # N realistic 1 Hz fixes, unacknowledged
//
// Results and command lines: docs/benchmarks.md, section "Agent".
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "vehicle-agent/gps_source.h"
#include "vehicle-agent/journal.h"

namespace {

cit::v1::Record MakeFix(uint64_t i, int64_t t0) {
  cit::v1::Record r;
  r.set_vehicle_id("CIT-0001");
  r.mutable_event_time()->set_seconds(t0 + static_cast<int64_t>(i));
  r.mutable_agent_time()->set_seconds(t0 + static_cast<int64_t>(i));
  r.set_agent_monotonic_ns(static_cast<int64_t>(i) * 1'000'000'000);
  r.set_agent_boot(1);
  auto* f = r.mutable_fix();
  // A drive along a slow curve around Munich, ~10 m/s.
  f->set_lat_deg(48.137 + 0.0009 * std::sin(static_cast<double>(i) / 600.0));
  f->set_lon_deg(11.575 + 0.0009 * std::cos(static_cast<double>(i) / 600.0));
  f->set_mode(cit::v1::FIX_MODE_3D);
  f->set_alt_m(520.0);
  f->set_speed_mps(10.0);
  f->set_track_deg(90.0);
  f->set_satellites_used(9);
  f->set_hdop(0.9);
  f->set_eph_m(4.0);
  f->set_epv_m(7.0);
  return r;
}

std::filesystem::path FreshDir(const char* name) {
  auto d = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(d);
  return d;
}

void BM_JournalAppendFsyncEvery(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  auto dir = FreshDir("cit-agent-bench-append");
  cit::agent::JournalOptions o;
  o.dir = dir;
  auto j = std::move(*cit::agent::Journal::Open(o));
  uint64_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < batch; ++k) {
      auto r = MakeFix(i++, 1'790'000'000);
      benchmark::DoNotOptimize(j->Append(r));
    }
    benchmark::DoNotOptimize(j->Sync());
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
  j.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalAppendFsyncEvery)->Arg(1)->Arg(100)->Arg(1000);

void BM_JournalReadBatches(benchmark::State& state) {
  auto dir = FreshDir("cit-agent-bench-read");
  cit::agent::JournalOptions o;
  o.dir = dir;
  auto j = std::move(*cit::agent::Journal::Open(o));
  constexpr uint64_t kN = 86'400;
  for (uint64_t i = 0; i < kN; ++i) {
    auto r = MakeFix(i, 1'790'000'000);
    (void)j->Append(r);
  }
  (void)j->Sync();
  for (auto _ : state) {
    uint64_t next = 1;
    for (;;) {
      auto recs = j->Read(next, 1000);
      if (!recs.ok() || recs->empty()) break;
      next = recs->back().seq() + 1;
    }
    benchmark::DoNotOptimize(next);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kN));
  j.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalReadBatches)->Unit(benchmark::kMillisecond);

void BM_FixTrackerNewFix(benchmark::State& state) {
  cit::agent::FixTracker tr(std::chrono::seconds(86400));
  gps_data_t gd{};
  gd.set = MODE_SET | LATLON_SET | TIME_SET;
  gd.fix.mode = MODE_3D;
  gd.fix.latitude = 48.1;
  gd.fix.longitude = 11.5;
  gd.fix.altMSL = gd.fix.speed = gd.fix.track = gd.fix.eph = gd.fix.epv = gd.fix.eps = 1.0;
  gd.dop.hdop = 0.9;
  gd.satellites_used = 9;
  timespec now{1'790'000'000, 0};
  for (auto _ : state) {
    gd.fix.time.tv_sec = ++now.tv_sec;
    benchmark::DoNotOptimize(tr.OnGpsData(gd, now));
  }
}
BENCHMARK(BM_FixTrackerNewFix);

int FillJournal(const char* dir, uint64_t n, const char* vehicle) {
  cit::agent::JournalOptions o;
  o.dir = dir;
  auto j = cit::agent::Journal::Open(o);
  if (!j.ok()) {
    std::fprintf(stderr, "%s\n", j.status().ToString().c_str());
    return 1;
  }
  // A 24-hour backlog that ends now: event times one second apart.
  const int64_t t0 = static_cast<int64_t>(std::time(nullptr)) - static_cast<int64_t>(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto r = MakeFix(i, t0);
    r.set_vehicle_id(vehicle);
    r.set_agent_boot((*j)->boot());
    if (!(*j)->Append(r).ok()) return 1;
  }
  if (!(*j)->Sync().ok()) return 1;
  std::printf("filled %s: %llu fixes, %llu bytes\n", dir, static_cast<unsigned long long>(n),
              static_cast<unsigned long long>((*j)->total_bytes()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--fill-journal") == 0) {
    return FillJournal(argv[2], std::stoull(argv[3]), argv[4]);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
