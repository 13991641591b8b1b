// The wire contract: round trips and the stable enum codes tools depend on.
#include <gtest/gtest.h>

#include "cit/v1/dispatch.pb.h"
#include "cit/v1/telemetry.pb.h"

namespace {

TEST(TelemetryContractTest, RecordWithFixRoundTripsThroughWireFormat) {
  cit::v1::Record rec;
  rec.set_vehicle_id("CIT-0042");
  rec.set_seq(17);
  rec.mutable_event_time()->set_seconds(1'800'000'000);
  rec.set_agent_monotonic_ns(123456789);
  auto* fix = rec.mutable_fix();
  fix->set_lat_deg(47.3769);
  fix->set_lon_deg(8.5417);
  fix->set_speed_mps(12.5);
  fix->set_mode(cit::v1::FIX_MODE_3D);
  fix->set_eph_m(4.2);

  cit::v1::Record back;
  ASSERT_TRUE(back.ParseFromString(rec.SerializeAsString()));
  EXPECT_EQ(back.vehicle_id(), "CIT-0042");
  EXPECT_EQ(back.seq(), 17u);
  ASSERT_TRUE(back.has_fix());
  EXPECT_DOUBLE_EQ(back.fix().lat_deg(), 47.3769);
  EXPECT_TRUE(back.fix().has_speed_mps());
  EXPECT_FALSE(back.fix().has_alt_m()) << "absent optional must stay absent";
  EXPECT_EQ(back.fix().mode(), cit::v1::FIX_MODE_3D);
}

TEST(TelemetryContractTest, GarbageBytesDoNotParseAsAgentMessage) {
  cit::v1::AgentMessage msg;
  EXPECT_FALSE(msg.ParseFromString(std::string("\xff\xff\xff\xff\x0f garbage", 14)));
}

TEST(TelemetryContractTest, RejectReasonCodesAreStable) {
  // Tools and dashboards match these numbers; renumbering is a breaking change.
  EXPECT_EQ(cit::v1::REJECT_REASON_NON_FINITE, 2);
  EXPECT_EQ(cit::v1::REJECT_REASON_OUT_OF_RANGE, 3);
  EXPECT_EQ(cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE, 4);
  EXPECT_EQ(cit::v1::REJECT_REASON_BATCH_TOO_LARGE, 5);
  EXPECT_EQ(cit::v1::REJECT_REASON_WRONG_VEHICLE, 6);
}

TEST(DispatchContractTest, AlertKindCodesAreStable) {
  EXPECT_EQ(cit::v1::ALERT_KIND_ROUTE_DEVIATION, 1);
  EXPECT_EQ(cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP, 5);
  EXPECT_EQ(cit::v1::ALERT_KIND_PANIC, 7);
  EXPECT_EQ(cit::v1::ALERT_KIND_CREW_INCOMPLETE, 17);
  EXPECT_TRUE(cit::v1::AlertKind_IsValid(17));
  EXPECT_FALSE(cit::v1::AlertKind_IsValid(18));
}

TEST(DispatchContractTest, EveryAlertKindHasAName) {
  const auto* desc = cit::v1::AlertKind_descriptor();
  for (int i = 0; i < desc->value_count(); ++i) {
    EXPECT_FALSE(desc->value(i)->name().empty());
    EXPECT_EQ(desc->value(i)->name().rfind("ALERT_KIND_", 0), 0u);
  }
}

TEST(DispatchContractTest, RunPlanWithStopsRoundTrips) {
  cit::v1::RunPlan plan;
  plan.set_run_id("R-1");
  plan.set_vehicle_id("CIT-0001");
  auto* p = plan.mutable_route()->add_points();
  p->set_lat_deg(1);
  p->set_lon_deg(2);
  auto* stop = plan.add_stops();
  stop->set_stop_id("S1");
  stop->set_radius_m(50);
  stop->set_doors_may_open(true);
  cit::v1::RunPlan back;
  ASSERT_TRUE(back.ParseFromString(plan.SerializeAsString()));
  EXPECT_EQ(back.stops(0).stop_id(), "S1");
  EXPECT_TRUE(back.stops(0).doors_may_open());
  EXPECT_EQ(back.route().points_size(), 1);
}

}  // namespace
