// The fleet view across several instances on one real PostgreSQL database (issue 15 §3,
// server/shared_fleet.h): the truck is evaluated by one instance, yet GetFleet and WatchFleet on
// the other show it as its owner judged it; after the truck moves, the instance that lost it
// shows the new owner's states, not its own stale one; and it cannot overwrite the owner's row.
// The instances run by hand (tests/dispatch/monitor_instance.h): records fed to the owner, the
// follower's poll and the fleet view's interval (SyncOnce) when the test says so.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/api/fleet_feed.h"
#include "dispatch-server/store/postgres_fleet_states.h"
#include "tests/dispatch/monitor_instance.h"
#include "tests/dispatch/scripted_run.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

using test::BackendDb;
namespace scripted = test::scripted;
using Instance = test::MonitorInstance;

constexpr scripted::ScriptShape kShape{};

// The truck's entry in a fleet view; fails the test when it is missing.
cit::v1::VehicleState Truck(const cit::v1::Fleet& fleet) {
  for (const cit::v1::VehicleState& v : fleet.vehicles()) {
    if (v.vehicle_id() == scripted::kVehicle) return v;
  }
  ADD_FAILURE() << "no " << scripted::kVehicle << " in the fleet view";
  return {};
}

// One instance's Dispatch service on loopback, as the console and dispatchctl reach it.
class DispatchEndpoint {
 public:
  explicit DispatchEndpoint(DispatchService* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    stub_ = cit::v1::Dispatch::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  ~DispatchEndpoint() { server_->Shutdown(); }

  cit::v1::Fleet GetFleet() {
    grpc::ClientContext ctx;
    cit::v1::Fleet fleet;
    grpc::Status s = stub_->GetFleet(&ctx, cit::v1::GetFleetRequest(), &fleet);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return fleet;
  }
  cit::v1::Dispatch::Stub& stub() { return *stub_; }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<cit::v1::Dispatch::Stub> stub_;
};

class FleetInstancesTest : public ::testing::Test {
 protected:
  FleetInstancesTest() { test::PlanBeforeStart(db_, &clock_, scripted::Plan(kShape)); }

  // Script steps [from, to) on `serving`, seq = step + 1; the other instance's clock runs too.
  void Drive(Instance& serving, Instance& other, size_t from, size_t to) {
    const std::vector<scripted::ScriptStep> script = scripted::Script(kShape);
    for (size_t i = from; i < to; ++i) {
      serving.TickUpTo(scripted::At_s(script[i].t_s));
      ASSERT_TRUE(serving.Feed(scripted::Committed(script[i], i + 1)).ok());
      other.TickUpTo(scripted::At_s(script[i].t_s));
    }
  }
  static void Sync(Instance& i) { ASSERT_TRUE(i.rm().shared_fleet()->SyncOnce().ok()); }
  // The truck as `i` judges it itself (its monitor: it owns the truck).
  static cit::v1::VehicleState Judged(Instance& i) { return Truck(i.rm().monitor().Fleet()); }

  BackendDb db_{"postgresql"};
  FakeClock clock_{scripted::kBase};
};

TEST_F(FleetInstancesTest, TruckEvaluatedByBAppearsInAsFleetWithBsJudgement) {
  Instance a(db_, "a", &clock_, {.vehicle = scripted::kVehicle});
  Instance b(db_, "b", &clock_, {.vehicle = scripted::kVehicle});
  DispatchEndpoint a_api(&a.rm().dispatch_service());
  b.TakeOver();  // the agent is connected to b
  a.Poll();
  Drive(b, a, 0, scripted::StepAt(scripted::Script(kShape), 120));  // left the depot at t = 60
  Sync(b);
  Sync(a);

  const cit::v1::VehicleState judged = Judged(b);
  ASSERT_EQ(judged.run_state(), cit::v1::RUN_STATE_ACTIVE);
  ASSERT_GT(judged.progress_m(), 0);
  const cit::v1::VehicleState shown = Truck(a_api.GetFleet());
  EXPECT_EQ(FleetFingerprint(shown), FleetFingerprint(judged))
      << "a shows:\n"
      << shown.DebugString() << "b judged:\n"
      << judged.DebugString();
  EXPECT_EQ(shown.last_fix().lat_deg(), judged.last_fix().lat_deg());
  EXPECT_EQ(shown.last_fix().lon_deg(), judged.last_fix().lon_deg());
  EXPECT_EQ(shown.run_state(), cit::v1::RUN_STATE_ACTIVE);
  EXPECT_NEAR(shown.last_fix_age_s(), judged.last_fix_age_s(), 1e-6);  // same clock
  EXPECT_GE(shown.last_seen_age_s(), judged.last_seen_age_s());
  // a's own monitor never judged a record of the truck.
  EXPECT_FALSE(Truck(a.rm().monitor().Fleet()).has_last_fix());
  EXPECT_GE(b.rm().shared_fleet()->published(), 1u);
  EXPECT_EQ(a.rm().shared_fleet()->published(), 0u);
  EXPECT_GE(a.rm().shared_fleet()->read(), 1u);
}

TEST_F(FleetInstancesTest, AfterTheTruckMovesToBAShowsBsNewerStatesInGetFleetAndWatchFleet) {
  Instance a(db_, "a", &clock_, {.vehicle = scripted::kVehicle});
  Instance b(db_, "b", &clock_, {.vehicle = scripted::kVehicle});
  DispatchEndpoint a_api(&a.rm().dispatch_service());
  a.rm().fleet_feed().Start();  // WatchFleet's feed (its own thread, 1 s throttle)
  const std::vector<scripted::ScriptStep> script = scripted::Script(kShape);
  const size_t moved_at = scripted::StepAt(script, 100);
  a.TakeOver();
  b.Poll();
  Drive(a, b, 0, moved_at);
  Sync(a);
  const cit::v1::VehicleState stale = Judged(a);

  grpc::ClientContext watch;
  watch.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = a_api.stub().WatchFleet(&watch, cit::v1::WatchFleetRequest());
  cit::v1::VehicleState first;
  ASSERT_TRUE(stream->Read(&first));  // the snapshot: a's own judgement
  EXPECT_EQ(FleetFingerprint(first), FleetFingerprint(stale));

  // The agent fails over to b; a learns it at its poll and shows its last published state
  // until b publishes; b judges the next 100 s.
  b.TakeOver();
  a.Poll();
  EXPECT_EQ(a.rm().monitor().released_vehicles(), 1u);
  Drive(b, a, moved_at, scripted::StepAt(script, 200));
  Sync(b);
  Sync(a);

  const cit::v1::VehicleState newer = Judged(b);
  ASSERT_NE(FleetFingerprint(newer), FleetFingerprint(stale));
  const cit::v1::VehicleState shown = Truck(a_api.GetFleet());
  EXPECT_EQ(FleetFingerprint(shown), FleetFingerprint(newer)) << shown.DebugString();
  EXPECT_GT(FromProto(shown.last_fix_time()), FromProto(stale.last_fix_time()));

  // The stream on a delivers b's state next. (a's own state may come once more first: the
  // feed's first interval after the subscription repeats the snapshot.)
  cit::v1::VehicleState next;
  do {
    ASSERT_TRUE(stream->Read(&next));
  } while (FleetFingerprint(next) == FleetFingerprint(stale));
  EXPECT_EQ(FleetFingerprint(next), FleetFingerprint(newer)) << next.DebugString();
  watch.TryCancel();
  stream->Finish();
}

TEST_F(FleetInstancesTest, AnInstanceThatLostTheTruckCannotOverwriteTheOwnersRow) {
  Instance a(db_, "a", &clock_, {.vehicle = scripted::kVehicle});
  Instance b(db_, "b", &clock_, {.vehicle = scripted::kVehicle});
  const std::vector<scripted::ScriptStep> script = scripted::Script(kShape);
  const size_t moved_at = scripted::StepAt(script, 100);
  a.TakeOver();
  b.Poll();
  Drive(a, b, 0, moved_at);  // a judged it, and has not published yet
  const uint64_t a_token = a.follower().Owned().at(scripted::kVehicle);
  b.TakeOver();
  Drive(b, a, moved_at, scripted::StepAt(script, 130));
  Sync(b);

  // a has not polled: it still believes it owns the truck and tries to publish its state.
  ASSERT_EQ(a.follower().Owned().count(scripted::kVehicle), 1u);
  Sync(a);
  EXPECT_EQ(a.rm().shared_fleet()->published(), 0u);
  EXPECT_EQ(a.rm().shared_fleet()->fenced(), 1u);

  // Nor with the table directly, under its old token.
  auto table = PostgresFleetStates::Open(db_.conninfo());
  ASSERT_TRUE(table.ok()) << table.status();
  const FleetStateWrite stale{scripted::kVehicle, a_token, Judged(a).SerializeAsString()};
  auto written = (*table)->Publish("a", {&stale, 1});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(written->empty());

  auto rows = (*table)->ReadAfter({}, 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].owner, "b");
  EXPECT_GT((*rows)[0].fencing_token, a_token);
  cit::v1::VehicleState stored;
  ASSERT_TRUE(stored.ParseFromString((*rows)[0].state));
  EXPECT_EQ(FleetFingerprint(stored), FleetFingerprint(Judged(b)));
  // Until its poll a takes itself for the owner and shows its own judgement; then b's.
  EXPECT_EQ(FleetFingerprint(Truck(a.rm().shared_fleet()->Fleet())), FleetFingerprint(Judged(a)));
  a.Poll();
  EXPECT_EQ(FleetFingerprint(Truck(a.rm().shared_fleet()->Fleet())), FleetFingerprint(Judged(b)));
}

}  // namespace
}  // namespace cit::dispatch
