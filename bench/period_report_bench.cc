// The period report over a month of a 200-truck fleet (issue 14 §2: "a month of 200 trucks,
// 8 h/day at 1 Hz, summarised in under 2 s").
//
// What is built, once, in a temp database through the server's own stores and migrations:
//   - 6,000 runs (200 trucks x 30 days, one 8 h run a day, 8 stops, a 100-point route; 5 %
//     aborted) in `runs`, as SqliteRunStore stores them;
//   - 60,000 alerts (10 a run, every kind and severity; half acknowledged and resolved by one
//     of 12 operators) in `alerts`;
//   - the per-run summaries PeriodReporter keeps (report_run_summaries, report_stops: 48,000
//     stop outcomes), each standing for 28,800 records (8 h at 1 Hz): 172.8 M records in all;
//   - one real 8 h run of 28,800 fixes in `records`, for the cost of summarising one run.
// The 172.8 M records themselves are not generated: the report never reads the records of a
// summarised run, so their number does not enter its time; a run is summarised once, from its
// records, when it has ended (BM_SummariseOneRun measures that, per run).
//
//   BM_PeriodReportMonth        the month, whole fleet (report_runs in step with runs)
//   BM_PeriodReportMonthCold    the same after report_runs was emptied (6,000 run protos parsed)
//   BM_PeriodReportMonthGroup   the month for a group of 20 trucks
//   BM_SummariseOneRun          read one 8 h run's 28,800 records, run report, summary
//   BM_ReadOneRunRecords        its first half: the records read from SQLite and converted
//   BM_BuildRunReportOnly       its second half: BuildRunReport (100-point route, 8 stops)
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>

#include "dispatch-server/audit/period_report.h"
#include "dispatch-server/audit/period_run_summary.h"
#include "dispatch-server/audit/run_report.h"
#include "dispatch-server/audit/store_audit_source.h"
#include "dispatch-server/store/sqlite_alert_store.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "dispatch-server/store/sqlite_store.h"

namespace {

using namespace cit::dispatch;

constexpr int kTrucks = 200;
constexpr int kDays = 30;
constexpr int kStops = 8;
constexpr int kAlertsPerRun = 10;
constexpr int64_t kMonthStart = 1'793'491'200;  // 2026-11-01T00:00:00Z
constexpr int kRunSeconds = 8 * 3600;

std::string Truck(int t) { return "CIT-" + std::to_string(1000 + t); }

cit::v1::Run MakeRun(int truck, int day, std::mt19937& rng) {
  cit::v1::Run run;
  cit::v1::RunPlan* p = run.mutable_plan();
  p->set_run_id(Truck(truck) + "-D" + std::to_string(day));
  p->set_vehicle_id(Truck(truck));
  const int64_t start = kMonthStart + day * 86400 + 6 * 3600 + truck * 7;
  p->mutable_planned_start()->set_seconds(start);
  p->mutable_planned_end()->set_seconds(start + kRunSeconds);
  for (int i = 0; i < 100; ++i) {
    auto* pt = p->mutable_route()->add_points();
    pt->set_lat_deg(47.3 + 0.001 * i);
    pt->set_lon_deg(8.5 + 0.001 * i);
  }
  for (int s = 0; s < kStops; ++s) {
    auto* stop = p->add_stops();
    stop->set_stop_id("S" + std::to_string(s + 1));
    stop->set_name("Site " + std::to_string((truck * 3 + s) % 150));
    stop->mutable_position()->set_lat_deg(47.3 + 0.01 * s);
    stop->mutable_position()->set_lon_deg(8.5 + 0.01 * s);
    stop->set_radius_m(50);
    stop->mutable_arrival_earliest()->set_seconds(start + s * 3600);
    stop->mutable_arrival_latest()->set_seconds(start + s * 3600 + 900);
  }
  run.set_state(rng() % 20 == 0 ? cit::v1::RUN_STATE_ABORTED : cit::v1::RUN_STATE_COMPLETED);
  run.set_version(1);
  run.mutable_created_time()->set_seconds(start - 86400);
  run.mutable_ended_time()->set_seconds(start + kRunSeconds);
  return run;
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql, err);
    std::abort();
  }
}

void Step(sqlite3_stmt* st) {
  if (sqlite3_step(st) != SQLITE_DONE) std::abort();
  sqlite3_reset(st);
}

struct Fleet {
  std::filesystem::path dir;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<SqliteRunStore> runs;
  std::unique_ptr<SqliteAlertStore> alerts;
  std::shared_ptr<StoreAuditSource> source;
  std::unique_ptr<PeriodReporter> reporter;
  cit::v1::Run day_run;  // the run whose records are stored

  Fleet() {
    dir =
        std::filesystem::temp_directory_path() / ("cit-period-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto db_path = dir / "dispatch.db";
    SqliteStoreOptions so;
    so.durability = sqlite::Durability::kNormal;
    store = *SqliteStore::Open(db_path, so);
    runs = *SqliteRunStore::Open(db_path);
    alerts = *SqliteAlertStore::Open(db_path, sqlite::Durability::kNormal);
    source = std::make_shared<StoreAuditSource>(*store, nullptr, nullptr);
    reporter = *PeriodReporter::Open(db_path, source);
    Populate(db_path);
    StoreOneDay();
  }
  ~Fleet() { std::filesystem::remove_all(dir); }

  void Populate(const std::filesystem::path& db_path) {
    sqlite3* db = nullptr;
    sqlite3_open(db_path.c_str(), &db);
    Exec(db, "PRAGMA synchronous = OFF; BEGIN");
    sqlite3_stmt *run_st, *alert_st, *sum_st, *stop_st;
    sqlite3_prepare_v2(db,
                       "INSERT INTO runs (run_id, version, vehicle_id, state, proto) VALUES "
                       "(?1, 1, ?2, ?3, ?4)",
                       -1, &run_st, nullptr);
    sqlite3_prepare_v2(
        db,
        "INSERT INTO alerts (alert_id, vehicle_id, run_id, kind, subject, state, "
        "severity, event_time_ns, proto) VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?8)",
        -1, &alert_st, nullptr);
    sqlite3_prepare_v2(db,
                       "INSERT INTO report_run_summaries VALUES (?1, 1, ?2, ?3, ?4, 28800, 28700, "
                       "?5, ?6, ?7)",
                       -1, &sum_st, nullptr);
    sqlite3_prepare_v2(db, "INSERT INTO report_stops VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &stop_st,
                       nullptr);
    std::mt19937 rng(14);
    int64_t alert_id = 0;
    for (int day = 0; day < kDays; ++day) {
      for (int t = 0; t < kTrucks; ++t) {
        const cit::v1::Run run = MakeRun(t, day, rng);
        const std::string body = run.SerializeAsString();
        const std::string& id = run.plan().run_id();
        sqlite3_bind_text(run_st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(run_st, 2, run.plan().vehicle_id().c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(run_st, 3, run.state());
        sqlite3_bind_blob(run_st, 4, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
        Step(run_st);
        const int64_t start = run.plan().planned_start().seconds();
        for (int a = 0; a < kAlertsPerRun; ++a) {
          cit::v1::Alert alert;
          alert.set_alert_id(static_cast<uint64_t>(++alert_id));
          alert.set_vehicle_id(run.plan().vehicle_id());
          alert.set_run_id(id);
          alert.set_kind(static_cast<cit::v1::AlertKind>(1 + rng() % 17));
          alert.set_severity(static_cast<cit::v1::Severity>(1 + rng() % 4));
          const int64_t at = start + static_cast<int64_t>(rng() % kRunSeconds);
          alert.mutable_event_time()->set_seconds(at);
          alert.mutable_detected_time()->set_seconds(at + 1);
          alert.set_details("412 m off route for 37 s");
          alert.set_state(cit::v1::ALERT_STATE_OPEN);
          if (rng() % 2 == 0) {
            const std::string op = "op-" + std::to_string(rng() % 12);
            auto* ack = alert.add_actions();
            ack->set_state(cit::v1::ALERT_STATE_ACKNOWLEDGED);
            ack->set_actor(op);
            ack->set_comment("calling the crew");
            ack->mutable_time()->set_seconds(at + 1 + 5 + rng() % 300);
            auto* res = alert.add_actions();
            res->set_state(cit::v1::ALERT_STATE_RESOLVED);
            res->set_actor(op);
            res->set_comment("all in order");
            res->mutable_time()->set_seconds(at + 400 + rng() % 3600);
            alert.set_state(cit::v1::ALERT_STATE_RESOLVED);
          }
          const std::string ab = alert.SerializeAsString();
          sqlite3_bind_int64(alert_st, 1, alert_id);
          sqlite3_bind_text(alert_st, 2, alert.vehicle_id().c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_text(alert_st, 3, id.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_int(alert_st, 4, alert.kind());
          sqlite3_bind_int(alert_st, 5, alert.state());
          sqlite3_bind_int(alert_st, 6, alert.severity());
          sqlite3_bind_int64(alert_st, 7, at * 1'000'000'000);
          sqlite3_bind_blob(alert_st, 8, ab.data(), static_cast<int>(ab.size()), SQLITE_TRANSIENT);
          Step(alert_st);
        }
        // The summary PeriodReporter::StoreSummary writes when the run is summarised.
        sqlite3_bind_text(sum_st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(sum_st, 2, run.state());
        sqlite3_bind_double(sum_st, 3, rng() % 4 == 0 ? 500.0 + rng() % 3000 : 0.0);
        sqlite3_bind_double(sum_st, 4, 60.0);
        sqlite3_bind_int(sum_st, 5, static_cast<int>(rng() % 3));
        sqlite3_bind_double(sum_st, 6, 95.0);
        sqlite3_bind_int(sum_st, 7, static_cast<int>(rng() % 200));
        Step(sum_st);
        for (int s = 0; s < kStops; ++s) {
          const double delta = static_cast<double>(static_cast<int>(rng() % 2400) - 1200);
          const auto outcome =
              rng() % 50 == 0
                  ? StopOutcome::kMissed
                  : (delta < -600 ? StopOutcome::kEarly
                                  : (delta > 600 ? StopOutcome::kLate : StopOutcome::kOnTime));
          const double d = outcome == StopOutcome::kEarly  ? delta + 600
                           : outcome == StopOutcome::kLate ? delta - 600
                                                           : 0;
          sqlite3_bind_text(stop_st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_int(stop_st, 2, s);
          const std::string site = run.plan().stops(s).name();
          sqlite3_bind_text(stop_st, 3, site.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_int(stop_st, 4, static_cast<int>(outcome));
          sqlite3_bind_double(stop_st, 5, d);
          sqlite3_bind_int(stop_st, 6, PunctualityBucketOf(d));
          Step(stop_st);
        }
      }
    }
    for (auto* st : {run_st, alert_st, sum_st, stop_st}) sqlite3_finalize(st);
    Exec(db, "COMMIT; ANALYZE");
    sqlite3_close(db);
  }

  // One truck's 8 h day at 1 Hz, through the store's append path.
  void StoreOneDay() {
    std::mt19937 rng(7);
    day_run = MakeRun(0, 0, rng);
    day_run.mutable_plan()->set_run_id("DAY-RUN");
    const int64_t start = day_run.plan().planned_start().seconds();
    const auto now = std::chrono::system_clock::now();
    for (int first = 0; first < kRunSeconds; first += 1000) {
      AppendBatch batch;
      for (int i = first; i < std::min(kRunSeconds, first + 1000); ++i) {
        CommittedRecord r;
        r.vehicle_id = Truck(0);
        r.record.set_seq(static_cast<uint64_t>(i + 1));
        r.record.mutable_event_time()->set_seconds(start + i);
        r.record.set_agent_monotonic_ns(int64_t{i} * 1'000'000'000);
        r.record.mutable_fix()->set_lat_deg(47.3 + 1e-5 * i);
        r.record.mutable_fix()->set_lon_deg(8.5 + 1e-5 * i);
        r.record.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
        r.record.mutable_fix()->set_speed_mps(13.9);
        r.server_received_time = now;
        batch.records.push_back(std::move(r));
      }
      if (!store->Append(batch).ok()) std::abort();
    }
  }
};

Fleet& TheFleet() {
  static Fleet fleet;
  return fleet;
}

cit::v1::PeriodReportRequest Month() {
  cit::v1::PeriodReportRequest req;
  req.mutable_from()->set_seconds(kMonthStart);
  req.mutable_to()->set_seconds(kMonthStart + kDays * 86400);
  return req;
}

void Report(benchmark::State& state, const cit::v1::PeriodReportRequest& req, bool cold) {
  Fleet& f = TheFleet();
  uint64_t stops = 0;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      sqlite3* db = nullptr;
      sqlite3_open((f.dir / "dispatch.db").c_str(), &db);
      Exec(db, "DELETE FROM report_runs");
      sqlite3_close(db);
      state.ResumeTiming();
    }
    absl::StatusOr<cit::v1::PeriodReport> r = f.reporter->Build(req);
    if (!r.ok() || r->runs_summarised() != 0) {
      state.SkipWithError(r.ok() ? "runs were summarised" : r.status().ToString().c_str());
      return;
    }
    const auto& t = r->punctuality().total();
    stops = t.on_time() + t.early() + t.late() + t.missed() + t.skipped();
    state.counters["runs"] = static_cast<double>(r->runs_planned());
    state.counters["alerts"] = static_cast<double>(r->alerts_total());
  }
  state.counters["stops"] = static_cast<double>(stops);
}

void BM_PeriodReportMonth(benchmark::State& state) { Report(state, Month(), false); }
BENCHMARK(BM_PeriodReportMonth)->Unit(benchmark::kMillisecond)->MinTime(2);

void BM_PeriodReportMonthCold(benchmark::State& state) { Report(state, Month(), true); }
BENCHMARK(BM_PeriodReportMonthCold)->Unit(benchmark::kMillisecond)->MinTime(2);

void BM_PeriodReportMonthGroup(benchmark::State& state) {
  cit::v1::PeriodReportRequest req = Month();
  for (int t = 0; t < 20; ++t) req.add_vehicle_ids(Truck(t * 10));
  Report(state, req, false);
}
BENCHMARK(BM_PeriodReportMonthGroup)->Unit(benchmark::kMillisecond)->MinTime(2);

void BM_SummariseOneRun(benchmark::State& state) {
  Fleet& f = TheFleet();
  for (auto _ : state) {
    const auto [from, to] = RunWindow(f.day_run);
    auto records = f.source->VehicleRecords(f.day_run.plan().vehicle_id(), from, to);
    if (!records.ok() || records->size() != kRunSeconds) {
      state.SkipWithError("records");
      return;
    }
    const cit::v1::RunReport report = BuildRunReport(f.day_run, *records, {});
    PeriodRunSummary s = SummariseRun(report, *records);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * kRunSeconds);
}
BENCHMARK(BM_SummariseOneRun)->Unit(benchmark::kMillisecond);

// The two halves of BM_SummariseOneRun, which are also the server's part of `audit report`
// (Auditor::Report: the run's records read and converted, then BuildRunReport): where a per-run
// report's time goes (issue 14 §2, the per-run audit goal).
void BM_ReadOneRunRecords(benchmark::State& state) {
  Fleet& f = TheFleet();
  for (auto _ : state) {
    const auto [from, to] = RunWindow(f.day_run);
    auto records = f.source->VehicleRecords(f.day_run.plan().vehicle_id(), from, to);
    if (!records.ok() || records->size() != kRunSeconds) {
      state.SkipWithError("records");
      return;
    }
    benchmark::DoNotOptimize(records);
  }
  state.SetItemsProcessed(state.iterations() * kRunSeconds);
}
BENCHMARK(BM_ReadOneRunRecords)->Unit(benchmark::kMillisecond);

void BM_BuildRunReportOnly(benchmark::State& state) {
  Fleet& f = TheFleet();
  const auto [from, to] = RunWindow(f.day_run);
  auto records = f.source->VehicleRecords(f.day_run.plan().vehicle_id(), from, to);
  if (!records.ok()) {
    state.SkipWithError("records");
    return;
  }
  for (auto _ : state) {
    cit::v1::RunReport report = BuildRunReport(f.day_run, *records, {});
    benchmark::DoNotOptimize(report);
  }
  state.SetItemsProcessed(state.iterations() * kRunSeconds);
}
BENCHMARK(BM_BuildRunReportOnly)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
