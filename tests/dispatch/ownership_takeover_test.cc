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

#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/dispatch/monitor_instance.h"
#include "tests/dispatch/scripted_run.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

using test::BackendDb;
namespace scripted = test::scripted;
using scripted::At_s;
using scripted::kBase;
using Step = scripted::ScriptStep;
using Instance = test::MonitorInstance;

// Planned and dispatched before the instances start: no crew check-ins, no dispatch step.
constexpr scripted::ScriptShape kShape{};
std::vector<Step> Script() { return scripted::Script(kShape); }
size_t StepAt(double t_s) { return scripted::StepAt(Script(), t_s); }

test::MonitorInstanceOptions Truck() { return {.vehicle = scripted::kVehicle}; }

// The step on the instance that owns the truck, as its monitor thread and ingest would.
void Drive(Instance& serving, const Step& step, uint64_t seq) {
  serving.TickUpTo(At_s(step.t_s));
  ASSERT_TRUE(serving.Feed(scripted::Committed(step, seq)).ok());
}

// What an alert is, whichever instance raised it.
using AlertKey = std::tuple<std::string, std::string, int64_t, int, uint32_t, bool>;
std::multiset<AlertKey> StoredAlertKeys(const BackendDb& db) {
  std::multiset<AlertKey> out;
  for (const cit::v1::Alert& a : test::StoredAlerts(db)) {
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
    test::PlanBeforeStart(db, &clock, scripted::Plan(kShape));
    Instance a(db, "a", &clock, Truck()), b(db, "b", &clock, Truck());
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
      Drive(*serving, script[i], i + 1);
      other->TickUpTo(At_s(script[i].t_s));  // the released instance's clock runs too
    }
    released_a_ = a.rm().ownership()->released();
    released_b_ = b.rm().ownership()->released();
    rebuilt_a_ = a.rm().ownership()->rebuilt_takeovers();
    rebuilt_b_ = b.rm().ownership()->rebuilt_takeovers();
    // Past every deadline of the run, on both: the one that lost the truck raises nothing.
    a.TickUpTo(At_s(4000));
    b.TickUpTo(At_s(4000));
    EXPECT_TRUE(a.rm().alerts().WaitStored().ok());
    EXPECT_TRUE(b.rm().alerts().WaitStored().ok());
    return StoredAlertKeys(db);
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
    scripted::ExpectSameState(*before_[step], *after_[step]);
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
  test::PlanBeforeStart(db, &clock, scripted::Plan(kShape));
  Instance a(db, "a", &clock, Truck()), b(db, "b", &clock, Truck());
  a.TakeOver();
  b.Poll();
  const std::vector<Step> script = Script();
  for (size_t i = 0; i < 100; ++i) Drive(a, script[i], i + 1);
  a.TakeOver();  // the same agent, a new stream
  a.Poll();
  EXPECT_EQ(a.rm().ownership()->rebuilt_takeovers(), 1u);  // the first, from nobody
  EXPECT_EQ(a.rm().ownership()->continued_takeovers(), 1u);
  EXPECT_EQ(a.rm().ownership()->released(), 0u);
  EXPECT_EQ(a.rm().monitor().released_vehicles(), 0u);
  EXPECT_EQ(b.rm().monitor().released_vehicles(), 1u);
  EXPECT_EQ(b.rm().monitor().records_of_released(), 0u);
  // Still judged on a, also by the clock: S2's window closes (t = 700) before the truck is there.
  for (size_t i = 100; i < StepAt(720); ++i) Drive(a, script[i], i + 1);
  EXPECT_TRUE(a.rm().alerts().WaitStored().ok());
  bool late = false;
  for (const cit::v1::Alert& alert : a.rm().alerts().List(AlertFilter{})) {
    late = late || alert.kind() == cit::v1::ALERT_KIND_LATE_ARRIVAL;
  }
  EXPECT_TRUE(late);
}

}  // namespace
}  // namespace cit::dispatch
