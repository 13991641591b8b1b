// The raw-SQLite ceiling of the record store (issue 16 §5): how many record rows per second
// SQLite itself commits on this machine, with no gRPC, no protobuf, no hashing and no server.
// The end-to-end ingest figure (fleet_load against dispatch-server) is stated against it in
// docs/benchmarks.md.
//
//   build/ci/bench/sqlite_ceiling_bench --benchmark_min_time=2
//
// Two layouts, each in two shapes:
//   - SameSchema: the store's own schema, made by SqliteStore::Open (records WITHOUT ROWID keyed
//     by the vehicle's name, the chain and event-time indexes, the append-only triggers) and
//     the store's statements: one INSERT per record and one vehicle_seq upsert per vehicle
//     and commit, with sqlite::Database's pragmas (WAL, synchronous=FULL, 64 MiB cache).
//   - Lean: one table keyed by an integer vehicle number and seq, no secondary index, no
//     per-commit upsert: what a leaner keyed layout could reach.
//   - Log: rows in arrival order (INTEGER PRIMARY KEY, no other index): each commit appends to
//     the right edge of one B-tree, the floor of SQLite's write amplification for this data.
//   - shapes: "fleet" = 1,000 vehicles x 1 record per commit (a fleet at 1 Hz, commits every
//     second); "bulk" = 1,000 vehicles x 10 records per commit (a backlog drain).
// Rows carry a 200-byte body and a 32-byte hash of fixed random bytes (ciphertext-like, so
// SQLite cannot compress anything away). Counters: rows/s, and bytes the process wrote to disk
// per row (/proc/self/io write_bytes: WAL and checkpoints together), the write amplification.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "dispatch-server/store/sqlite_db.h"
#include "dispatch-server/store/sqlite_store.h"

namespace {

namespace sqlite = cit::dispatch::sqlite;

constexpr int kVehicles = 1000;

// Bytes this process has caused to be written to storage so far.
int64_t WrittenBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

// A fresh database directory per benchmark run, removed afterwards.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("cit-ceiling-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path operator/(const char* f) const { return path_ / f; }

 private:
  std::filesystem::path path_;
};

// What one benchmark layout needs: a connection and its insert statements.
struct Writer {
  std::unique_ptr<sqlite::Database> db;
  sqlite::Statement insert;
  sqlite::Statement upsert;  // SameSchema only
};

absl::StatusOr<Writer> OpenSameSchema(const std::filesystem::path& file) {
  {
    // The store creates and migrates its schema; then it is closed and only SQLite writes.
    absl::StatusOr<std::unique_ptr<cit::dispatch::SqliteStore>> store =
        cit::dispatch::SqliteStore::Open(file);
    if (!store.ok()) return store.status();
  }
  Writer w;
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(file);
  if (!db.ok()) return db.status();
  w.db = std::move(*db);
  absl::StatusOr<sqlite::Statement> insert = w.db->Prepare(
      "INSERT INTO records (vehicle_id, seq, chain_index, event_time_ns, agent_time_ns, "
      "agent_monotonic_ns, agent_boot, server_time_ns, kind, lat_deg, lon_deg, body, hash) "
      "VALUES (?1, ?2, ?2, ?3, ?3, ?3, 1, ?3, 10, 47.0, 8.5, ?4, ?5)");
  if (!insert.ok()) return insert.status();
  w.insert = std::move(*insert);
  absl::StatusOr<sqlite::Statement> upsert = w.db->Prepare(
      "INSERT INTO vehicle_seq (vehicle_id, contiguous_seq, chain_index, head_hash) "
      "VALUES (?1, ?2, ?2, ?3) ON CONFLICT (vehicle_id) DO UPDATE SET "
      "contiguous_seq = excluded.contiguous_seq, chain_index = excluded.chain_index, "
      "head_hash = excluded.head_hash");
  if (!upsert.ok()) return upsert.status();
  w.upsert = std::move(*upsert);
  return w;
}

enum class Layout { kSameSchema, kLean, kLog };

absl::StatusOr<Writer> OpenSimple(const std::filesystem::path& file, Layout layout) {
  Writer w;
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(file);
  if (!db.ok()) return db.status();
  w.db = std::move(*db);
  const char* table =
      layout == Layout::kLean
          ? "CREATE TABLE records (vehicle INTEGER NOT NULL, seq INTEGER NOT NULL, "
            "event_time_ns INTEGER NOT NULL, body BLOB NOT NULL, hash BLOB NOT NULL, "
            "PRIMARY KEY (vehicle, seq)) WITHOUT ROWID"
          : "CREATE TABLE records (id INTEGER PRIMARY KEY, vehicle INTEGER NOT NULL, "
            "seq INTEGER NOT NULL, event_time_ns INTEGER NOT NULL, body BLOB NOT NULL, "
            "hash BLOB NOT NULL)";
  if (absl::Status s = w.db->Exec(table); !s.ok()) return s;
  absl::StatusOr<sqlite::Statement> insert = w.db->Prepare(
      "INSERT INTO records (vehicle, seq, event_time_ns, body, hash) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!insert.ok()) return insert.status();
  w.insert = std::move(*insert);
  return w;
}

// One commit: `per_vehicle` records for each vehicle, seqs from `first_seq`.
absl::Status CommitOnce(Writer& w, Layout layout, const std::vector<std::string>& names,
                        uint64_t first_seq, int per_vehicle, const std::string& body,
                        const std::string& hash) {
  sqlite::Transaction tx(*w.db);
  if (!tx.status().ok()) return tx.status();
  for (int v = 0; v < kVehicles; ++v) {
    const auto vehicle = static_cast<size_t>(v);
    for (int i = 0; i < per_vehicle; ++i) {
      const uint64_t seq = first_seq + static_cast<uint64_t>(i);
      const int64_t t = 1'800'000'000'000'000'000 + static_cast<int64_t>(seq) * 1'000'000'000;
      if (layout == Layout::kSameSchema) {
        w.insert.Reset().Bind(1, names[vehicle]).Bind(2, seq);
      } else {
        w.insert.Reset().Bind(1, v).Bind(2, seq);
      }
      w.insert.Bind(3, t).Bind(4, sqlite::Blob(body)).Bind(5, sqlite::Blob(hash));
      if (absl::Status s = w.insert.Run(); !s.ok()) return s;
    }
    if (layout == Layout::kSameSchema) {
      const uint64_t last = first_seq + static_cast<uint64_t>(per_vehicle) - 1;
      w.upsert.Reset().Bind(1, names[vehicle]).Bind(2, last).Bind(3, sqlite::Blob(hash));
      if (absl::Status s = w.upsert.Run(); !s.ok()) return s;
    }
  }
  return tx.Commit();
}

void RunCeiling(benchmark::State& state, Layout layout) {
  const int per_vehicle = static_cast<int>(state.range(0));
  ScratchDir dir(std::to_string(static_cast<int>(layout)));
  absl::StatusOr<Writer> w = layout == Layout::kSameSchema ? OpenSameSchema(dir / "ceiling.db")
                                                           : OpenSimple(dir / "ceiling.db", layout);
  if (!w.ok()) {
    state.SkipWithError(w.status().ToString().c_str());
    return;
  }
  std::vector<std::string> names;
  for (int v = 0; v < kVehicles; ++v) names.push_back("LOAD-" + std::to_string(1000 + v));
  const std::string body = RandomBytes(200, 1);
  const std::string hash = RandomBytes(32, 2);
  uint64_t next_seq = 1;
  const int64_t written_before = WrittenBytes();
  for (auto _ : state) {
    if (absl::Status s = CommitOnce(*w, layout, names, next_seq, per_vehicle, body, hash);
        !s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      return;
    }
    next_seq += static_cast<uint64_t>(per_vehicle);
  }
  const double rows = static_cast<double>(state.iterations()) * kVehicles * per_vehicle;
  state.counters["rows_per_s"] = benchmark::Counter(rows, benchmark::Counter::kIsRate);
  state.counters["written_bytes_per_row"] =
      static_cast<double>(WrittenBytes() - written_before) / rows;
}

void BM_SameSchema(benchmark::State& state) { RunCeiling(state, Layout::kSameSchema); }
void BM_Lean(benchmark::State& state) { RunCeiling(state, Layout::kLean); }
void BM_Log(benchmark::State& state) { RunCeiling(state, Layout::kLog); }

BENCHMARK(BM_SameSchema)
    ->ArgName("records_per_vehicle")
    ->Arg(1)
    ->Arg(10)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Log)
    ->ArgName("records_per_vehicle")
    ->Arg(1)
    ->Arg(10)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Lean)
    ->ArgName("records_per_vehicle")
    ->Arg(1)
    ->Arg(10)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
