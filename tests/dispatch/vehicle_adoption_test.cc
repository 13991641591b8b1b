// Adoption of a dead instance's vehicles (issue 15 §3, server/ownership_follower.h): three
// instances ("a", "b", "c": RunMonitoring and a record store each, adoption through the store)
// on one real PostgreSQL database, the run planned before they start. The truck is driven on
// "a"; then "a" dies without releasing anything (its heartbeat stops: no more polls, no more
// ticks) and the truck's agent never reconnects (jammed). Exactly one survivor adopts the truck
// once a's heartbeat has expired (the database's clock), rebuilds its state from the store and
// raises COMMS_LOST once; "a", resumed afterwards, is fenced (its commit for the truck is
// refused) and releases the truck at its first poll.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/dispatch/monitor_harness.h"
#include "tests/dispatch/monitor_instance.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using test::At;
using test::BackendDb;

constexpr char kVehicle[] = "truck-9";
constexpr char kRun[] = "run-9";
// Short, so the test waits about this long for a's heartbeat to expire (real database clock).
constexpr std::chrono::milliseconds kExpiry{2000};
const SysTime kBase = FromUnixSeconds(1'700'000'000);
SysTime At_s(double t_s) { return kBase + FromSeconds(t_s); }

cit::v1::RunPlan Plan() {
  cit::v1::RunPlan plan;
  plan.set_run_id(kRun);
  plan.set_vehicle_id(kVehicle);
  for (int x = 0; x <= 10'000; x += 1'000) *plan.mutable_route()->add_points() = At(x, 0);
  plan.mutable_route()->set_corridor_half_width_m(50);
  test::MonitorHarness::AddStop(plan, "D", 0)->set_doors_may_open(true);
  cit::v1::Stop* s1 = test::MonitorHarness::AddStop(plan, "S1", 6000);
  *s1->mutable_arrival_latest() = ToProto(At_s(3000));  // far after every tick of the test
  s1->set_doors_may_open(true);
  return plan;
}

// On the route at 10 m/s from t = 1: nothing to alert on while the data flow.
cit::v1::Record FixAt(double t_s) {
  cit::v1::Record r;
  const cit::v1::Position p = At(t_s * 10.0, 0);
  r.mutable_fix()->set_lat_deg(p.lat_deg());
  r.mutable_fix()->set_lon_deg(p.lon_deg());
  r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
  r.mutable_fix()->set_speed_mps(10);
  return r;
}

using Instance = test::MonitorInstance;

// An instance that adopts the dead owners' vehicles through its record store.
test::MonitorInstanceOptions Adopting() {
  return {.vehicle = kVehicle, .adopt = true, .instance_expiry = kExpiry};
}

// A record of the truck stamped at t_s, on the instance that serves it, as its monitor thread
// and ingest would: its clock to t_s, then the record stored (or refused: fenced) and judged.
absl::Status Feed(Instance& serving, double t_s, uint64_t seq) {
  serving.Tick(At_s(t_s));
  CommittedRecord cr{kVehicle, FixAt(t_s),
                     std::chrono::time_point_cast<std::chrono::system_clock::duration>(At_s(t_s))};
  cr.record.set_seq(seq);
  *cr.record.mutable_event_time() = ToProto(At_s(t_s));
  return serving.Feed(cr);
}

TEST(VehicleAdoptionTest, ASurvivorAdoptsTheDeadOwnersTruckAndRaisesCommsLostOnce) {
  BackendDb db("postgresql");
  FakeClock clock(kBase);
  test::PlanBeforeStart(db, &clock, Plan());
  Instance a(db, "a", &clock, Adopting()), b(db, "b", &clock, Adopting()),
      c(db, "c", &clock, Adopting());

  // Nobody has taken the truck over yet: the first poll adopts it (a), the others, seeing a
  // alive, leave it to a and release it -- one instance judges it by the clock.
  a.Poll();
  b.Poll();
  c.Poll();
  EXPECT_EQ(a.follower().adopted(), 1u);
  EXPECT_EQ(b.follower().adopted() + c.follower().adopted(), 0u);
  EXPECT_EQ(b.rm().monitor().released_vehicles(), 1u);
  EXPECT_EQ(c.rm().monitor().released_vehicles(), 1u);
  // Its agent connects to a: a's own token was the previous one, no rebuild.
  a.TakeOver();
  EXPECT_EQ(a.follower().continued_takeovers(), 1u);

  for (int t = 1; t <= 300; ++t) {
    ASSERT_TRUE(Feed(a, t, t).ok());
    b.Tick(At_s(t));
    c.Tick(At_s(t));
  }
  // While a beats, its truck stays with it.
  a.Poll();
  b.Poll();
  c.Poll();
  EXPECT_EQ(b.follower().adopted() + c.follower().adopted(), 0u);

  // The survivors' clocks run on while a's heartbeat expires (40 s here, to tell the silence's
  // start apart: counted from the last record, not from the adoption).
  b.Tick(At_s(340));
  c.Tick(At_s(340));
  // a dies: no heartbeat, no tick, nothing released. The agent is jammed: no reconnect. The
  // survivors poll (as their threads do every second) until a's heartbeat has expired on the
  // database's clock and one of them has adopted the truck.
  ASSERT_TRUE(cit::test::WaitFor(
      [&] {
        b.Poll();
        c.Poll();
        return b.follower().adopted() + c.follower().adopted() > 0;
      },
      kExpiry * 10));
  b.Poll();
  c.Poll();
  ASSERT_EQ(b.follower().adopted() + c.follower().adopted(), 1u) << "one survivor wins it";
  Instance& winner = b.follower().adopted() == 1 ? b : c;
  Instance& loser = b.follower().adopted() == 1 ? c : b;
  EXPECT_EQ(winner.follower().rebuilt_takeovers(), 1u);
  EXPECT_EQ(loser.rm().monitor().released_vehicles(), 1u);  // still released there

  // The data stopped at t = 300: the winner, on the state rebuilt from the store, raises
  // COMMS_LOST; the loser raises nothing.
  for (int t = 341; t <= 420; ++t) {
    winner.Tick(At_s(t));
    loser.Tick(At_s(t));
  }
  EXPECT_EQ(winner.RaisedHere(cit::v1::ALERT_KIND_COMMS_LOST), 1u);
  EXPECT_EQ(loser.RaisedHere(cit::v1::ALERT_KIND_COMMS_LOST), 0u);

  // a comes back (it was only paused): its first poll releases the truck, so its clock raises
  // nothing for it, and a commit it had under way for the truck is refused (fenced).
  a.Poll();
  EXPECT_EQ(a.follower().released(), 1u);
  absl::Status fenced = Feed(a, 301, 301);
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition) << fenced;
  a.Tick(At_s(420));
  EXPECT_EQ(a.RaisedHere(cit::v1::ALERT_KIND_COMMS_LOST), 0u);

  // In the database: COMMS_LOST once, and a's alert from before its death (no crew checked in
  // at departure) once -- the adoption's rebuild matched it instead of raising it again.
  std::multiset<std::pair<int, std::string>> stored;
  for (const cit::v1::Alert& alert : test::StoredAlerts(db)) {
    stored.emplace(alert.kind(), alert.subject());
    if (alert.kind() != cit::v1::ALERT_KIND_COMMS_LOST) continue;
    // Silence counted from the last record a stored, not from the adoption (t = 340).
    EXPECT_EQ(FromProto(alert.event_time()), At_s(360)) << alert.ShortDebugString();
  }
  EXPECT_EQ(stored.count({cit::v1::ALERT_KIND_COMMS_LOST, ""}), 1u);
  EXPECT_EQ(stored.count({cit::v1::ALERT_KIND_CREW_INCOMPLETE, "departure"}), 1u);
  EXPECT_EQ(stored.size(), 2u);
}

}  // namespace
}  // namespace cit::dispatch
