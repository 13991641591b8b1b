// SqliteStore::Append throughput: one group commit of `records_per_vehicle` records for each of
// 1,000 vehicles (as the ingest's commit thread issues them under load), on a real file.
//
//   build/dev/bench/store_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "dispatch-server/store/sqlite_store.h"

namespace {

using cit::dispatch::AppendBatch;
using cit::dispatch::CommittedRecord;
using cit::dispatch::SqliteStore;

void BM_AppendGroupCommit(benchmark::State& state) {
  const int vehicles = 1000;
  const int per_vehicle = static_cast<int>(state.range(0));
  const bool full = state.range(1) != 0;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cit-store-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    cit::dispatch::SqliteStoreOptions o;
    o.durability = full ? cit::dispatch::sqlite::Durability::kFull
                        : cit::dispatch::sqlite::Durability::kNormal;
    auto store = SqliteStore::Open(dir / "bench.db", o);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    std::vector<std::string> ids;
    for (int v = 0; v < vehicles; ++v) ids.push_back("LOAD-" + std::to_string(1000 + v));
    uint64_t next_seq = 1;
    const auto now = std::chrono::system_clock::now();
    for (auto _ : state) {
      state.PauseTiming();
      AppendBatch batch;
      batch.records.reserve(static_cast<size_t>(vehicles * per_vehicle));
      for (int i = 0; i < per_vehicle; ++i) {
        for (int v = 0; v < vehicles; ++v) {
          CommittedRecord r;
          r.vehicle_id = ids[static_cast<size_t>(v)];
          r.record.set_seq(next_seq + static_cast<uint64_t>(i));
          r.record.mutable_event_time()->set_seconds(1'800'000'000 +
                                                     static_cast<int64_t>(next_seq));
          r.record.set_agent_monotonic_ns(static_cast<int64_t>(next_seq) * 1000);
          r.record.mutable_fix()->set_lat_deg(47.0 + 1e-5 * static_cast<double>(v));
          r.record.mutable_fix()->set_lon_deg(8.5);
          r.record.mutable_fix()->set_speed_mps(13.9);
          r.record.mutable_fix()->set_eph_m(3.5);
          r.server_received_time = now;
          batch.records.push_back(std::move(r));
        }
      }
      next_seq += static_cast<uint64_t>(per_vehicle);
      state.ResumeTiming();
      if (auto s = (*store)->Append(batch); !s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * vehicles * per_vehicle);
  }
  std::filesystem::remove_all(dir);
}
// Args: records per vehicle per commit, durability full (1) or normal (0).
BENCHMARK(BM_AppendGroupCommit)
    ->Args({1, 1})
    ->Args({10, 1})
    ->Args({10, 0})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
