// Monitoring follows vehicle ownership (issue 15 §3, server/ownership_follower.h): two instances
// ("a" and "b": RunMonitoring and a record store each, with their instance names) on one real
// PostgreSQL database, the run planned before both start. A scripted run (a stop with a door
// opening and a dwell, a seal broken en route, a deviation with a door opened off route, a stop
// reached late, a GNSS outage at a stop) is fed to the instance that owns the vehicle; mid-run
// the vehicle moves to the other (its fencing token), as when the agent fails over. The
// instance that takes it over starts from the state rebuilt from the store, equal to the one the
// other had; the one that lost it raises nothing more for it (no COMMS_LOST on its clock); and
// the alerts in the database are those of an uninterrupted run on one instance: none missing,
// none twice, none false.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "dispatch-server/server/run_monitoring.h"
#include "dispatch-server/store/postgres_alert_store.h"
#include "dispatch-server/store/postgres_store.h"
#include "tests/dispatch/monitor_harness.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using test::At;
using test::BackendDb;

constexpr char kVehicle[] = "truck-7";
constexpr char kRun[] = "run-1";
// Well before the real clock: every scripted record counts as received before a takeover.
const SysTime kBase = FromUnixSeconds(1'700'000'000);
SysTime At_s(double t_s) { return kBase + FromSeconds(t_s); }

cit::v1::Record FixRecord(double x_m, double y_m, double speed_mps,
                          cit::v1::FixMode mode = cit::v1::FIX_MODE_3D) {
  cit::v1::Record r;
  const cit::v1::Position p = At(x_m, y_m);
  r.mutable_fix()->set_lat_deg(p.lat_deg());
  r.mutable_fix()->set_lon_deg(p.lon_deg());
  r.mutable_fix()->set_mode(mode);
  r.mutable_fix()->set_speed_mps(speed_mps);
  return r;
}
cit::v1::Record DoorRecord(uint32_t door, bool open) {
  cit::v1::Record r;
  r.mutable_door()->set_door(door);
  r.mutable_door()->set_state(open ? cit::v1::DOOR_STATE_OPEN : cit::v1::DOOR_STATE_CLOSED);
  return r;
}
cit::v1::Record SealRecord(uint32_t seal, bool broken) {
  cit::v1::Record r;
  r.mutable_seal()->set_seal(seal);
  r.mutable_seal()->set_state(broken ? cit::v1::SEAL_STATE_BROKEN : cit::v1::SEAL_STATE_INTACT);
  return r;
}

cit::v1::RunPlan Plan() {
  cit::v1::RunPlan plan;
  plan.set_run_id(kRun);
  plan.set_vehicle_id(kVehicle);
  for (int x = 0; x <= 10'000; x += 1'000) *plan.mutable_route()->add_points() = At(x, 0);
  plan.mutable_route()->set_corridor_half_width_m(50);
  auto stop = [&](const std::string& id, double x, std::optional<double> latest_s,
                  double max_dwell_s) {
    cit::v1::Stop* s = test::MonitorHarness::AddStop(plan, id, x);
    if (latest_s) *s->mutable_arrival_latest() = ToProto(At_s(*latest_s));
    s->set_max_dwell_s(max_dwell_s);
    s->set_doors_may_open(true);
  };
  stop("D", 0, std::nullopt, 0);
  stop("S1", 3000, 600, 300);
  stop("S2", 6000, 700, 100);
  stop("S3", 9000, 2000, 0);
  return plan;
}

struct Step {
  double t_s = 0;
  cit::v1::Record record;
};

// The run, second by second (dispatched at t = 0, before the instances start).
std::vector<Step> Script() {
  std::vector<Step> s;
  auto fix = [&](double t, double x, double y, double v,
                 cit::v1::FixMode mode = cit::v1::FIX_MODE_3D) {
    s.push_back({t, FixRecord(x, y, v, mode)});
  };
  for (int t = 1; t < 60; ++t) fix(t, 0, 0, 0);                    // at the depot
  for (int t = 60; t <= 360; ++t) fix(t, (t - 60) * 10.0, 0, 10);  // to S1, on time
  for (int t = 361; t <= 480; ++t) {                               // at S1, 120 s
    fix(t, 3000, 0, 0);
    if (t == 400) s.push_back({t + 0.5, DoorRecord(1, true)});
    if (t == 430) s.push_back({t + 0.5, DoorRecord(1, false)});
  }
  for (int t = 481; t <= 581; ++t) {  // on to 4000 m; a seal breaks
    fix(t, 3000 + (t - 480) * 10.0, 0, 10);
    if (t == 520) s.push_back({t + 0.5, SealRecord(1, true)});
  }
  for (int t = 582; t <= 682; ++t) {  // 200 m off the route, a door opened off route
    fix(t, 4000 + (t - 582) * 10.0, 200, 10);
    if (t == 600) s.push_back({t + 0.5, DoorRecord(2, true)});
    if (t == 610) s.push_back({t + 0.5, DoorRecord(2, false)});
  }
  for (int t = 683; t <= 783; ++t) fix(t, 5000 + (t - 683) * 10.0, 0, 10);  // S2, late
  for (int t = 784; t <= 900; ++t) {  // at S2: GNSS lost for 40 s, dwell exceeded
    const bool lost = t >= 800 && t < 840;
    fix(t, 6000, 0, 0, lost ? cit::v1::FIX_MODE_NO_FIX : cit::v1::FIX_MODE_3D);
  }
  for (int t = 901; t <= 1200; ++t) fix(t, 6000 + (t - 900) * 10.0, 0, 10);  // on to S3
  for (int t = 1201; t <= 1260; ++t) fix(t, 9000, 0, 0);
  return s;
}

size_t StepAt(double t_s) {
  const std::vector<Step> s = Script();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i].t_s >= t_s) return i;
  }
  return s.size();
}

// One dispatch-server instance: RunMonitoring with its instance name (ownership followed) and a
// record store writing under that name; records are appended and handed to the monitor as the
// ingest does. The monitor runs synchronously (RunOnce), on the shared fake clock.
class Instance {
 public:
  Instance(const BackendDb& db, const std::string& name, FakeClock* clock) : clock_(clock) {
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
    auto rm = RunMonitoring::Open(o, clock);
    EXPECT_TRUE(rm.ok()) << rm.status();
    rm_ = std::move(*rm);
    std::atomic<bool> stop{false};
    rm_->runs().CompilePending(stop);
    EXPECT_TRUE(cit::test::WaitFor([&] { return rm_->rebuilding() == 0; }));
    rm_->monitor().RunOnce();
  }
  ~Instance() {
    EXPECT_TRUE(rm_->alerts().WaitStored().ok());
    rm_->Stop();
  }

  // The vehicle's agent connects here: the ingest takes it over and tells the follower, whose
  // rebuild (if any) is adopted before the next record.
  void TakeOver() {
    absl::StatusOr<uint64_t> token = store_->TakeOwnership(kVehicle);
    ASSERT_TRUE(token.ok()) << token.status();
    rm_->ownership()->OnTakenOver(kVehicle, *token);
    ASSERT_TRUE(cit::test::WaitFor([&] { return rm_->rebuilding() == 0; }));
    rm_->monitor().RunOnce();
  }
  // The follower's poll (its thread does this every second).
  void Poll() { ASSERT_TRUE(rm_->ownership()->PollOnce().ok()); }

  // As the monitor thread does: a tick shortly before the step, then the step and a tick.
  void Tick(SysTime t) {
    if (clock_->Now() < t - MonitorOptions{}.tick) {
      clock_->Set(t - MonitorOptions{}.tick);
      rm_->monitor().RunOnce();
    }
    clock_->Set(std::max(clock_->Now(), t));
    rm_->monitor().RunOnce();
  }
  void Feed(const Step& step, uint64_t seq) {
    Tick(At_s(step.t_s));
    CommittedRecord cr{
        kVehicle, step.record,
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(At_s(step.t_s))};
    cr.record.set_seq(seq);
    *cr.record.mutable_event_time() = ToProto(At_s(step.t_s));
    rm_->monitor().OnAccepted(std::span<const CommittedRecord>(&cr, 1));
    AppendBatch batch;
    batch.records.push_back(cr);
    ASSERT_TRUE(store_->Append(batch).ok());
    rm_->monitor().RunOnce();
  }
  std::unique_ptr<VehicleState> CopyState() {
    std::unique_ptr<VehicleState> s = rm_->monitor().TakeVehicle(kVehicle);
    if (s == nullptr) return nullptr;
    auto copy = std::make_unique<VehicleState>(*s);
    rm_->monitor().Adopt(std::move(s));
    rm_->monitor().RunOnce();
    return copy;
  }
  RunMonitoring& rm() { return *rm_; }

 private:
  FakeClock* clock_;
  std::unique_ptr<RunMonitoring> rm_;
  std::unique_ptr<PostgresStore> store_;
};

// What an alert is, whichever instance raised it.
using AlertKey = std::tuple<std::string, std::string, int64_t, int, uint32_t, bool>;
std::multiset<AlertKey> StoredAlerts(const BackendDb& db) {
  auto store = PostgresAlertStore::Open(db.conninfo());
  EXPECT_TRUE(store.ok()) << store.status();
  std::multiset<AlertKey> out;
  if (!store.ok()) return out;
  auto loaded = (*store)->Load(0);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return out;
  for (const cit::v1::Alert& a : loaded->alerts) {
    out.emplace(cit::v1::AlertKind_Name(a.kind()), a.subject(),
                FromProto(a.event_time()).time_since_epoch().count(), a.severity(), a.occurrences(),
                a.has_condition_cleared_time());
  }
  return out;
}
std::string Describe(const std::multiset<AlertKey>& alerts) {
  std::string out;
  for (const auto& [kind, subject, t, severity, occ, cleared] : alerts) {
    out += kind + " [" + subject + "] t=" + std::to_string(Seconds(SysTime(Duration(t)) - kBase)) +
           " sev=" + std::to_string(severity) + " occ=" + std::to_string(occ) +
           " cleared=" + std::to_string(cleared) + "\n";
  }
  return out;
}

class OwnershipTakeoverTest : public ::testing::Test {
 protected:
  // Plays the script on "a"; before each step in `moves` the vehicle moves to the other
  // instance (which takes it over; the one that lost it learns it at its next poll). Returns
  // the alerts stored in the database after every deadline of the run passed on both clocks.
  std::multiset<AlertKey> Play(const std::set<size_t>& moves) {
    BackendDb db("postgresql");
    FakeClock clock(kBase);
    PlanRun(db, &clock);
    Instance a(db, "a", &clock), b(db, "b", &clock);
    Instance* serving = &a;
    Instance* other = &b;
    serving->TakeOver();
    other->Poll();
    const std::vector<Step> script = Script();
    for (size_t i = 0; i < script.size(); ++i) {
      if (moves.count(i) != 0) {
        EXPECT_TRUE(serving->rm().alerts().WaitStored().ok());
        before_[i] = serving->CopyState();
        other->TakeOver();
        after_[i] = other->CopyState();
        serving->Poll();
        std::swap(serving, other);
      }
      serving->Feed(script[i], i + 1);
      other->Tick(At_s(script[i].t_s));  // the released instance's clock runs too
    }
    released_a_ = a.rm().ownership()->released();
    released_b_ = b.rm().ownership()->released();
    rebuilt_a_ = a.rm().ownership()->rebuilt_takeovers();
    rebuilt_b_ = b.rm().ownership()->rebuilt_takeovers();
    // Past every deadline of the run, on both: the one that lost the truck raises nothing.
    a.Tick(At_s(4000));
    b.Tick(At_s(4000));
    EXPECT_TRUE(a.rm().alerts().WaitStored().ok());
    EXPECT_TRUE(b.rm().alerts().WaitStored().ok());
    return StoredAlerts(db);
  }

  // Planned and dispatched before both instances start (both load it).
  static void PlanRun(const BackendDb& db, FakeClock* clock) {
    RunMonitoringOptions o;
    o.database_path = db.path();
    o.postgres_connection = db.conninfo();
    auto planner = RunMonitoring::Open(o, clock);
    ASSERT_TRUE(planner.ok()) << planner.status();
    EXPECT_TRUE((*planner)->runs().Create(Plan(), "tester").ok());
    EXPECT_TRUE((*planner)->runs().Dispatch(kRun, "tester").ok());
    (*planner)->Stop();
  }

  static void ExpectSameState(const VehicleState& x, const VehicleState& y) {
    ASSERT_EQ(x.run != nullptr, y.run != nullptr);
    EXPECT_EQ(x.run_state, y.run_state);
    ASSERT_EQ(x.stops.size(), y.stops.size());
    for (size_t i = 0; i < x.stops.size(); ++i) {
      SCOPED_TRACE("stop " + std::to_string(i));
      EXPECT_EQ(x.stops[i].status, y.stops[i].status);
      EXPECT_EQ(x.stops[i].arrived, y.stops[i].arrived);
      EXPECT_EQ(x.stops[i].departed, y.stops[i].departed);
      EXPECT_EQ(x.stops[i].late_alerted, y.stops[i].late_alerted);
      EXPECT_EQ(x.stops[i].dwell_alerted, y.stops[i].dwell_alerted);
      EXPECT_EQ(x.stops[i].door_openings, y.stops[i].door_openings);
    }
    EXPECT_EQ(x.current_stop, y.current_stop);
    EXPECT_EQ(x.next_stop, y.next_stop);
    EXPECT_DOUBLE_EQ(x.progress_m, y.progress_m);
    EXPECT_EQ(x.doors_open, y.doors_open);
    EXPECT_EQ(x.seals_broken, y.seals_broken);
    EXPECT_EQ(x.highest_seq, y.highest_seq);
    EXPECT_EQ(x.deviation.active, y.deviation.active);
    EXPECT_EQ(x.deviation.off_fixes, y.deviation.off_fixes);
    EXPECT_EQ(x.gnss_lost.lost, y.gnss_lost.lost);
    EXPECT_EQ(x.gnss_lost.active, y.gnss_lost.active);
    EXPECT_EQ(x.motion.moving, y.motion.moving);
  }

  std::map<size_t, std::unique_ptr<VehicleState>> before_, after_;
  uint64_t released_a_ = 0, released_b_ = 0, rebuilt_a_ = 0, rebuilt_b_ = 0;
};

TEST_F(OwnershipTakeoverTest, VehicleMovedMidRunKeepsItsStateAndAlertsAndTheLoserRaisesNothing) {
  const std::multiset<AlertKey> reference = Play({});
  ASSERT_FALSE(reference.empty());
  std::set<std::string> kinds;
  for (const AlertKey& k : reference) kinds.insert(std::get<0>(k));
  for (const char* k :
       {"ALERT_KIND_ROUTE_DEVIATION", "ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP", "ALERT_KIND_SEAL_BROKEN",
        "ALERT_KIND_LATE_ARRIVAL", "ALERT_KIND_DWELL_EXCEEDED"}) {
    EXPECT_EQ(kinds.count(k), 1u) << k << "\n" << Describe(reference);
  }
  // The truck falls silent after t = 1260 with its run live: the owner raises COMMS_LOST once;
  // b, which never owned it, raises nothing on its clock.
  EXPECT_EQ(reference.count(AlertKey{"ALERT_KIND_COMMS_LOST", "",
                                     At_s(1320).time_since_epoch().count(), 3, 1, false}),
            1u)
      << Describe(reference);
  EXPECT_EQ(reference.size(), kinds.size()) << "one alert per kind\n" << Describe(reference);

  // To b at S1 (door open, dwell running), back to a during the deviation, to b at S2 (GNSS
  // lost, late): each takeover rebuilds from the store what the other instance judged.
  const size_t at_s1 = StepAt(410), in_deviation = StepAt(640), at_s2 = StepAt(820);
  const std::multiset<AlertKey> moved = Play({at_s1, in_deviation, at_s2});
  EXPECT_EQ(moved, reference) << "reference:\n"
                              << Describe(reference) << "moved:\n"
                              << Describe(moved);
  for (size_t step : {at_s1, in_deviation, at_s2}) {
    SCOPED_TRACE("moved before t=" + std::to_string(Script()[step].t_s));
    ASSERT_NE(before_[step], nullptr);
    ASSERT_NE(after_[step], nullptr);
    ExpectSameState(*before_[step], *after_[step]);
  }
  EXPECT_EQ(released_a_, 2u);  // to b twice
  EXPECT_EQ(released_b_, 2u);  // when a took it first, and when it went back to a
  EXPECT_EQ(rebuilt_b_, 2u);
  EXPECT_EQ(rebuilt_a_, 2u);  // its first takeover, then the one from b
}

// The agent reconnecting to the instance that owns the truck (token n + 1 after its own n): its
// monitor saw every record, nothing is rebuilt. The owner's own row in a poll releases nothing.
TEST_F(OwnershipTakeoverTest, ReconnectToTheOwnerContinuesWithoutARebuild) {
  BackendDb db("postgresql");
  FakeClock clock(kBase);
  PlanRun(db, &clock);
  Instance a(db, "a", &clock), b(db, "b", &clock);
  a.TakeOver();
  b.Poll();
  const std::vector<Step> script = Script();
  for (size_t i = 0; i < 100; ++i) a.Feed(script[i], i + 1);
  a.TakeOver();  // the same agent, a new stream
  a.Poll();
  EXPECT_EQ(a.rm().ownership()->rebuilt_takeovers(), 1u);  // the first, from nobody
  EXPECT_EQ(a.rm().ownership()->continued_takeovers(), 1u);
  EXPECT_EQ(a.rm().ownership()->released(), 0u);
  EXPECT_EQ(a.rm().monitor().released_vehicles(), 0u);
  EXPECT_EQ(b.rm().monitor().released_vehicles(), 1u);
  EXPECT_EQ(b.rm().monitor().records_of_released(), 0u);
  // Still judged on a, also by the clock: S2's window closes (t = 700) before the truck is there.
  for (size_t i = 100; i < StepAt(720); ++i) a.Feed(script[i], i + 1);
  EXPECT_TRUE(a.rm().alerts().WaitStored().ok());
  bool late = false;
  for (const cit::v1::Alert& alert : a.rm().alerts().List(AlertFilter{})) {
    late = late || alert.kind() == cit::v1::ALERT_KIND_LATE_ARRIVAL;
  }
  EXPECT_TRUE(late);
}

}  // namespace
}  // namespace cit::dispatch
