// The track parsers of `dispatchctl plan check` (dispatchctl/track_formats.h) on a day at 1 Hz
// (86,400 points), and GPX on the fuzzer's worst shape: a 256 KiB document of bare points
// without comments, which an earlier scanner read in time quadratic in its size (each point
// searched the rest of the document for the next comment; >10 s under the fuzzer).
//
//   build/ci/bench/track_parse_bench
//
// Counter: fixes_per_s (bytes_per_s for the worst shape).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "dispatchctl/track_formats.h"

namespace cit::ctl {
namespace {

constexpr int kDay = 86'400;

std::string Rfc3339(int second_of_day) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2026-01-15T%02d:%02d:%02dZ", second_of_day / 3600,
                second_of_day / 60 % 60, second_of_day % 60);
  return buf;
}

std::string DayGpx() {
  std::string gpx = "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\"><trk><trkseg>\n";
  for (int i = 0; i < kDay; ++i) {
    gpx += "<trkpt lat=\"" + std::to_string(47.37 + i * 1e-6) + "\" lon=\"8.5\"><time>" +
           Rfc3339(i) + "</time><speed>2.0</speed></trkpt>\n";
  }
  return gpx + "</trkseg></trk></gpx>\n";
}

std::string DayCsv() {
  std::string csv = "time,lat,lon,speed\n";
  for (int i = 0; i < kDay; ++i) {
    csv += Rfc3339(i) + "," + std::to_string(47.37 + i * 1e-6) + ",8.5,2.0\n";
  }
  return csv;
}

// Points of one time: every one is read, and all but the first are dropped as a receiver's
// repeated sentence (track_common.h), so nothing stops the scan early.
std::string WorstShapeGpx() {
  std::string gpx = "<gpx>";
  while (gpx.size() < 256 * 1024) {
    gpx += "<trkpt lat=\"1\" lon=\"2\"><time>2026-01-15T08:00:00Z</time></trkpt>";
  }
  return gpx;
}

template <typename Parse>
void ParseDay(benchmark::State& state, const std::string& text, Parse parse) {
  for (auto _ : state) {
    auto r = parse(text, "day");
    if (!r.ok() || r->size() != static_cast<std::size_t>(kDay)) {
      state.SkipWithError("the day did not parse");
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["fixes_per_s"] = benchmark::Counter(static_cast<double>(kDay) * state.iterations(),
                                                     benchmark::Counter::kIsRate);
}

void BM_GpxDayAt1Hz(benchmark::State& state) { ParseDay(state, DayGpx(), ParseGpxTrack); }
BENCHMARK(BM_GpxDayAt1Hz)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CsvDayAt1Hz(benchmark::State& state) { ParseDay(state, DayCsv(), ParseCsvTrack); }
BENCHMARK(BM_CsvDayAt1Hz)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GpxWorstShape256KiB(benchmark::State& state) {
  const std::string gpx = WorstShapeGpx();
  for (auto _ : state) {
    auto r = ParseGpxTrack(gpx, "worst");
    if (!r.ok() || r->size() != 1) {
      state.SkipWithError("the repeated point was not read as one fix");
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["bytes_per_s"] = benchmark::Counter(
      static_cast<double>(gpx.size()) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GpxWorstShape256KiB)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace cit::ctl

BENCHMARK_MAIN();
