// SqliteStore::Append throughput: one group commit of `records_per_vehicle` records for each of
// 1,000 vehicles (as the ingest's commit thread issues them under load), on a real file.
//
//   build/dev/bench/store_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "dispatch-server/store/record_hash.h"
#include "dispatch-server/store/sqlite_store.h"

namespace {

using cit::dispatch::AppendBatch;
using cit::dispatch::CommittedRecord;
using cit::dispatch::SqliteStore;

void BM_AppendGroupCommit(benchmark::State& state) {
  const int vehicles = 1000;
  const int per_vehicle = static_cast<int>(state.range(0));
  const bool full = state.range(1) != 0;
  const bool bodies_made = state.range(2) != 0;  // by the ingest, as the server does
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
          if (bodies_made) r.body = cit::dispatch::SerializeRecordBody(r.record);
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
// Args: records per vehicle per commit, durability full (1) or normal (0), bodies serialised by
// the ingest before the commit (1, as in the server since issue 16 §5) or by the store (0).
BENCHMARK(BM_AppendGroupCommit)
    ->Args({1, 1, 1})
    ->Args({10, 1, 1})
    ->Args({10, 0, 1})
    ->Args({10, 0, 0})
    ->Unit(benchmark::kMillisecond);

// One vehicle never delivered seq 1 while `backlog` later records were stored: the cost of the
// next 100-record commit (it used to copy the whole above-watermark set: 13 ms -> 70-86 ms
// after 200,000 records). Should be flat in `backlog`.
void BM_AppendBehindMissingSeq(benchmark::State& state) {
  const uint64_t backlog = static_cast<uint64_t>(state.range(0));
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cit-gap-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    cit::dispatch::SqliteStoreOptions o;
    o.durability = cit::dispatch::sqlite::Durability::kNormal;
    auto store = SqliteStore::Open(dir / "bench.db", o);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    const auto now = std::chrono::system_clock::now();
    uint64_t next_seq = 2;  // seq 1 never arrives
    auto make_batch = [&](uint64_t n) {
      AppendBatch batch;
      for (uint64_t i = 0; i < n; ++i, ++next_seq) {
        CommittedRecord r;
        r.vehicle_id = "GAP-1";
        r.record.set_seq(next_seq);
        r.record.mutable_event_time()->set_seconds(1'800'000'000 + static_cast<int64_t>(next_seq));
        r.record.mutable_fix()->set_lat_deg(47.0);
        r.record.mutable_fix()->set_lon_deg(8.5);
        r.server_received_time = now;
        batch.records.push_back(std::move(r));
      }
      return batch;
    };
    for (uint64_t done = 0; done < backlog; done += 10'000) {
      AppendBatch fill = make_batch(std::min<uint64_t>(10'000, backlog - done));
      if (auto s = (*store)->Append(fill); !s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        return;
      }
    }
    for (auto _ : state) {
      state.PauseTiming();
      AppendBatch batch = make_batch(100);
      state.ResumeTiming();
      if (auto s = (*store)->Append(batch); !s.ok()) {
        state.SkipWithError(s.ToString().c_str());
        break;
      }
    }
    state.SetItemsProcessed(state.iterations() * 100);
  }
  std::filesystem::remove_all(dir);
}
// Arg: records already stored above the missing seq.
BENCHMARK(BM_AppendBehindMissingSeq)
    ->Arg(0)
    ->Arg(20'000)
    ->Arg(200'000)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
