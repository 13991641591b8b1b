// Time of `audit verify` for one run against the truck's whole history (issue 16 §3): a store
// holding N records of one truck (default 10,000,000: ~115 days at 1 Hz) with a signed
// checkpoint every K records (default 300: the default 5 min interval at 1 Hz), then the
// AuditLedger verifies an 8 h run (28,800 records) in the middle of the history and at its end,
// and the whole truck once. With --postgresql the records and the plan log are in a private
// PostgreSQL 15 (tests/support/postgres_server.h) and the ledger verifies a copy of them
// (postgres_chain_mirror.h) with the checkpoints there too, as the server does with [store]
// backend = "postgresql".
//
//   build/ci/bench/verify_run_bench [--records 10000000] [--checkpoint-every 300] [--dir /tmp]
//                                   [--postgresql 1]
//
// Printed: seeding time, then per verification the wall time (best of 3), the records walked
// and the chain positions; the store is deleted at the end.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "dispatch-server/audit/audit_ledger.h"
#include "dispatch-server/audit/audit_trail.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/audit/postgres_chain_mirror.h"
#include "dispatch-server/store/postgres_run_store.h"
#include "dispatch-server/store/postgres_store.h"
#include "dispatch-server/store/record_chain_check.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/support/postgres_server.h"

namespace {

namespace fs = std::filesystem;
using namespace cit::dispatch;
using Clock = std::chrono::steady_clock;

constexpr int64_t kT0 = 1'800'000'000;
constexpr char kVehicle[] = "CIT-BENCH";
constexpr uint64_t kRunRecords = 28'800;  // 8 h at 1 Hz

CommittedRecord Fix(uint64_t seq) {
  CommittedRecord r;
  r.vehicle_id = kVehicle;
  r.record.set_seq(seq);
  r.record.mutable_event_time()->set_seconds(kT0 + static_cast<int64_t>(seq));
  r.record.set_agent_monotonic_ns(static_cast<int64_t>(seq) * 1'000'000'000);
  r.record.mutable_agent_time()->set_seconds(kT0 + static_cast<int64_t>(seq));
  auto* f = r.record.mutable_fix();
  f->set_lat_deg(47.0 + 1e-6 * static_cast<double>(seq % 100000));
  f->set_lon_deg(8.5 + 1e-6 * static_cast<double>(seq % 77777));
  f->set_speed_mps(12.5);
  f->set_track_deg(90);
  f->set_mode(cit::v1::FIX_MODE_3D);
  f->set_satellites_used(9);
  f->set_hdop(0.9);
  r.server_received_time =
      std::chrono::system_clock::time_point(std::chrono::seconds(kT0 + static_cast<int64_t>(seq)));
  return r;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void VerifyOnce(AuditLedger& ledger, const char* what, const RecordTimeWindow* window) {
  double best = 1e9;
  cit::v1::VerifyChainResponse last;
  for (int i = 0; i < (window ? 3 : 1); ++i) {
    const auto start = Clock::now();
    auto v = ledger.Verify(kVehicle, "", nullptr, window);
    best = std::min(best, Seconds(start));
    if (!v.ok()) {
      std::fprintf(stderr, "verify failed: %s\n", std::string(v.status().message()).c_str());
      std::exit(1);
    }
    last = *v;
  }
  for (const auto& c : last.chains()) {
    if (c.chain() != std::string("records/") + kVehicle) continue;
    std::printf("%-34s %8.3f s  %s, %llu records walked (chain positions %llu..%llu)\n", what, best,
                last.intact() ? "intact" : "BROKEN",
                static_cast<unsigned long long>(c.entries_checked()),
                static_cast<unsigned long long>(c.first_position() + 1),
                static_cast<unsigned long long>(c.length()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 10'000'000;
  uint64_t every = 300;
  fs::path base = fs::temp_directory_path();
  bool postgresql = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) records = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--checkpoint-every") == 0) {
      every = std::strtoull(argv[i + 1], nullptr, 10);
    }
    if (std::strcmp(argv[i], "--dir") == 0) base = argv[i + 1];
    if (std::strcmp(argv[i], "--postgresql") == 0) postgresql = std::strcmp(argv[i + 1], "0") != 0;
  }
  if (records < 3 * kRunRecords || every == 0) {
    std::fprintf(stderr, "--records must be at least %llu, --checkpoint-every above 0\n",
                 static_cast<unsigned long long>(3 * kRunRecords));
    return 2;
  }
  const fs::path dir = base / ("verify_run_bench." + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path db = dir / "dispatch.db";
  std::unique_ptr<cit::test::PostgresServer> pg_server;
  std::string conninfo;
  if (postgresql) {
    auto started = cit::test::PostgresServer::Start();
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", std::string(started.status().message()).c_str());
      return 1;
    }
    pg_server = *std::move(started);
    auto created = pg_server->CreateDatabase();
    if (!created.ok()) return 1;
    conninfo = *created;
  }
  {
    std::unique_ptr<Store> store;
    if (postgresql) {
      PostgresStoreOptions o;
      o.connection = conninfo;
      auto pg_store = PostgresStore::Open(o);
      if (!PostgresRunStore::Open(conninfo).ok() || !pg_store.ok()) return 1;
      store = *std::move(pg_store);
    } else {
      // Seeding only: the verification reads what is on disk either way.
      auto sqlite_store = SqliteStore::Open(db, {.durability = sqlite::Durability::kNormal});
      if (!SqliteRunStore::Open(db).ok() || !sqlite_store.ok()) return 1;
      store = *std::move(sqlite_store);
    }
    // The checkpoint log and ledger as the server opens them (on PostgreSQL: checkpoints there).
    auto trail = AuditTrail::Open({}, db, postgresql ? conninfo : "");
    if (!trail.ok()) return 1;
    CheckpointLog* log = &(*trail)->log();
    const auto start = Clock::now();
    uint64_t checkpoints = 0;
    for (uint64_t first = 1; first <= records; first += every) {
      AppendBatch batch;
      for (uint64_t s = first; s < first + every && s <= records; ++s) {
        batch.records.push_back(Fix(s));
      }
      if (!store->Append(batch).ok()) return 1;
      if (!log->Append("interval", std::chrono::system_clock::now()).ok()) return 1;
      ++checkpoints;
    }
    std::printf("seeded %llu records and %llu signed checkpoints in %.1f s (%s)\n",
                static_cast<unsigned long long>(records),
                static_cast<unsigned long long>(checkpoints), Seconds(start),
                postgresql ? "PostgreSQL" : db.c_str());
    store.reset();
    std::shared_ptr<AuditLedger> ledger = (*trail)->ledger();
    const auto window = [](uint64_t first_seq) {
      return RecordTimeWindow{
          (kT0 + static_cast<int64_t>(first_seq)) * 1'000'000'000,
          (kT0 + static_cast<int64_t>(first_seq + kRunRecords - 1)) * 1'000'000'000};
    };
    const RecordTimeWindow middle = window(records / 2);
    const RecordTimeWindow latest = window(records - kRunRecords + 1);
    VerifyOnce(*ledger, "8 h run in the middle of history", &middle);
    VerifyOnce(*ledger, "8 h run at the end of history", &latest);
    VerifyOnce(*ledger, "whole truck (one pass)", nullptr);
  }
  fs::remove_all(dir);
  return 0;
}
