// One dispatch-server instance on a PostgreSQL database shared with others, driven by hand
// (issue 15 §3: ownership_takeover_test, vehicle_adoption_test): RunMonitoring with its
// instance name (ownership followed) and a record store writing under that name. Records are
// appended and handed to the monitor as the ingest does; the monitor runs synchronously
// (RunOnce) on the test's fake clock; the follower polls when the test says so.
//
//   test::PlanBeforeStart(db, &clock, plan);           // every instance loads the run
//   test::MonitorInstance a(db, "a", &clock, {.vehicle = "truck-7"});
//   a.TakeOver();                                      // the agent connects to a
//   ASSERT_TRUE(a.Feed(committed_record).ok());
//   b.Poll();                                          // b learns a owns the truck
#ifndef CIT_TESTS_DISPATCH_MONITOR_INSTANCE_H_
#define CIT_TESTS_DISPATCH_MONITOR_INSTANCE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dispatch-server/server/run_monitoring.h"
#include "dispatch-server/store/postgres_alert_store.h"
#include "dispatch-server/store/postgres_store.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch::test {

struct MonitorInstanceOptions {
  std::string vehicle;
  // Adoption of dead owners' vehicles through this instance's record store (without it, the
  // follower only follows takeovers and releases).
  bool adopt = false;
  std::chrono::milliseconds instance_expiry{10'000};
};

class MonitorInstance {
 public:
  MonitorInstance(const BackendDb& db, const std::string& name, FakeClock* clock,
                  MonitorInstanceOptions options)
      : clock_(clock), vehicle_(std::move(options.vehicle)) {
    // The record store first, as the server opens it (its migrations make vehicle_seq).
    PostgresStoreOptions so;
    so.connection = db.conninfo();
    so.instance = name;
    auto store = PostgresStore::Open(so);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    RunMonitoringOptions o;
    o.database_path = db.path();
    o.postgres_connection = db.conninfo();
    o.instance = name;
    o.instance_expiry = options.instance_expiry;
    auto rm = RunMonitoring::Open(o, clock);
    EXPECT_TRUE(rm.ok()) << rm.status();
    rm_ = std::move(*rm);
    if (options.adopt) rm_->ownership()->SetStore(store_);
    std::atomic<bool> stop{false};
    rm_->runs().CompilePending(stop);
    Settle();
  }
  ~MonitorInstance() {
    EXPECT_TRUE(rm_->alerts().WaitStored().ok());
    rm_->Stop();
  }

  // The vehicle's agent connects here: the ingest takes it over and tells the follower, whose
  // rebuild (if any) is adopted before the next record.
  void TakeOver() {
    absl::StatusOr<uint64_t> token = store_->TakeOwnership(vehicle_);
    ASSERT_TRUE(token.ok()) << token.status();
    rm_->ownership()->OnTakenOver(vehicle_, *token);
    Settle();
  }
  // The follower's poll (its thread does this every second): beat, release, adopt.
  void Poll() {
    ASSERT_TRUE(rm_->ownership()->PollOnce().ok());
    Settle();
  }

  // The clock to t (never back), one monitor pass.
  void Tick(SysTime t) {
    clock_->Set(std::max(clock_->Now(), t));
    rm_->monitor().RunOnce();
  }
  // As the monitor thread runs before a record at t: a tick shortly before t, then one at t.
  void TickUpTo(SysTime t) {
    if (clock_->Now() < t - MonitorOptions{}.tick) Tick(t - MonitorOptions{}.tick);
    Tick(t);
  }

  // A record of the vehicle, as the ingest hands it on: stored first (refused when this
  // instance no longer owns the vehicle: then the monitor never sees it), then judged.
  absl::Status Feed(const CommittedRecord& record) {
    AppendBatch batch;
    batch.records.push_back(record);
    absl::Status s = store_->Append(batch);
    if (!s.ok()) return s;
    rm_->monitor().OnAccepted(std::span<const CommittedRecord>(&record, 1));
    rm_->monitor().RunOnce();
    return absl::OkStatus();
  }

  // The vehicle's monitor state (moved out and adopted again: timers re-armed); null if this
  // instance does not judge it.
  std::unique_ptr<VehicleState> CopyState() {
    std::unique_ptr<VehicleState> s = rm_->monitor().TakeVehicle(vehicle_);
    if (s == nullptr) return nullptr;
    auto copy = std::make_unique<VehicleState>(*s);
    rm_->monitor().Adopt(std::move(s));
    rm_->monitor().RunOnce();
    return copy;
  }

  // Alerts of `kind` this instance raised (all stored first).
  size_t RaisedHere(cit::v1::AlertKind kind) {
    EXPECT_TRUE(rm_->alerts().WaitStored().ok());
    size_t n = 0;
    for (const cit::v1::Alert& alert : rm_->alerts().List(AlertFilter{})) {
      n += alert.kind() == kind ? 1 : 0;
    }
    return n;
  }

  OwnershipFollower& follower() { return *rm_->ownership(); }
  RunMonitoring& rm() { return *rm_; }

 private:
  // A rebuild (takeover, adoption) done and adopted by the monitor.
  void Settle() {
    ASSERT_TRUE(cit::test::WaitFor([&] { return rm_->rebuilding() == 0; }));
    rm_->monitor().RunOnce();
  }

  FakeClock* clock_;
  std::string vehicle_;
  std::unique_ptr<RunMonitoring> rm_;
  std::shared_ptr<PostgresStore> store_;
};

// Plans and dispatches `plan` before the instances start, so that every instance loads it.
inline void PlanBeforeStart(const BackendDb& db, FakeClock* clock, const cit::v1::RunPlan& plan) {
  RunMonitoringOptions o;
  o.database_path = db.path();
  o.postgres_connection = db.conninfo();
  auto planner = RunMonitoring::Open(o, clock);
  ASSERT_TRUE(planner.ok()) << planner.status();
  EXPECT_TRUE((*planner)->runs().Create(plan, "tester").ok());
  EXPECT_TRUE((*planner)->runs().Dispatch(plan.run_id(), "tester").ok());
  (*planner)->Stop();
}

// Every alert in the database, whichever instance raised it.
inline std::vector<cit::v1::Alert> StoredAlerts(const BackendDb& db) {
  auto store = PostgresAlertStore::Open(db.conninfo());
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return {};
  auto loaded = (*store)->Load(0);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return {};
  return {loaded->alerts.begin(), loaded->alerts.end()};
}

}  // namespace cit::dispatch::test

#endif  // CIT_TESTS_DISPATCH_MONITOR_INSTANCE_H_
