// Edge validation of agent records: every refusal carries its stable reason code.
#include "dispatch-server/ingest/record_validator.h"

#include <gtest/gtest.h>

#include <limits>

namespace cit::dispatch {
namespace {

using Clock = std::chrono::system_clock;
const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'800'000'000));

cit::v1::Record GoodFix() {
  cit::v1::Record r;
  r.set_seq(1);
  r.mutable_event_time()->set_seconds(1'800'000'000);
  r.mutable_fix()->set_lat_deg(-33.9);
  r.mutable_fix()->set_lon_deg(151.2);
  r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
  return r;
}

std::optional<cit::v1::RejectReason> Reason(const cit::v1::Record& r) {
  auto v = ValidateRecord(r, "CIT-1", kNow, ValidationLimits{});
  if (!v) return std::nullopt;
  return v->reason;
}

TEST(RecordValidatorTest, GoodFixAndEventsPass) {
  EXPECT_FALSE(Reason(GoodFix()));
  cit::v1::Record door = GoodFix();
  door.mutable_door()->set_door(2);
  door.mutable_door()->set_state(cit::v1::DOOR_STATE_OPEN);
  EXPECT_FALSE(Reason(door));
  cit::v1::Record hb = GoodFix();
  hb.mutable_heartbeat();
  EXPECT_FALSE(Reason(hb));
}

TEST(RecordValidatorTest, NonFiniteValuesAreNonFinite) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  cit::v1::Record r = GoodFix();
  r.mutable_fix()->set_lat_deg(nan);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_NON_FINITE);
  r = GoodFix();
  r.mutable_fix()->set_lon_deg(inf);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_NON_FINITE);
  r = GoodFix();
  r.mutable_fix()->set_speed_mps(nan);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_NON_FINITE);
}

TEST(RecordValidatorTest, OutOfRangeValuesAreOutOfRange) {
  cit::v1::Record r = GoodFix();
  r.mutable_fix()->set_lat_deg(200);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_OUT_OF_RANGE);
  r = GoodFix();
  r.mutable_fix()->set_lon_deg(-180.5);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_OUT_OF_RANGE);
  r = GoodFix();
  r.mutable_fix()->set_speed_mps(-1);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_OUT_OF_RANGE);
  r = GoodFix();
  r.mutable_fix()->set_jam_indicator(256);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_OUT_OF_RANGE);
  r = GoodFix();
  r.mutable_fix()->set_lat_deg(90);  // the pole is a valid place
  r.mutable_fix()->set_lon_deg(-180);
  EXPECT_FALSE(Reason(r));
}

TEST(RecordValidatorTest, EventTimeBoundsAreEnforced) {
  cit::v1::Record r = GoodFix();
  r.mutable_event_time()->set_seconds(0);  // 1970
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  r.mutable_event_time()->set_seconds(4'102'444'800);  // 2100
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  r.mutable_event_time()->set_seconds(1'800'000'000 + 23 * 3600);  // within 24 h ahead
  EXPECT_FALSE(Reason(r));
  r.mutable_event_time()->set_nanos(-5);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_MALFORMED);
  r.clear_event_time();
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_MALFORMED);
}

TEST(RecordValidatorTest, TimestampsThatCannotBeStoredAsNanosecondsAreOutOfRange) {
  // INT64_MAX seconds used to be accepted and stored as -1,000,000,000 ns (signed overflow).
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  cit::v1::Record r = GoodFix();
  r.mutable_agent_time()->set_seconds(kMax);
  auto v = ValidateRecord(r, "CIT-1", kNow, ValidationLimits{});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->reason, cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  EXPECT_NE(v->detail.find("agent_time.seconds"), std::string::npos) << v->detail;
  r.mutable_agent_time()->set_seconds(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  r.mutable_agent_time()->set_seconds(9'223'372'036);  // the first second past 2262-04-11
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  r.mutable_agent_time()->set_seconds(9'223'372'035);  // still storable: an odd clock, kept
  EXPECT_FALSE(Reason(r));
  r.mutable_agent_time()->set_seconds(0);  // an agent clock that never synced
  EXPECT_FALSE(Reason(r));
  r = GoodFix();
  r.mutable_fix()->mutable_receiver_time()->set_seconds(kMax);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
}

TEST(RecordValidatorTest, MissingPayloadIsMalformedAndSeqZeroIsBadSeq) {
  cit::v1::Record r = GoodFix();
  r.clear_fix();
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_MALFORMED);
  r = GoodFix();
  r.set_seq(0);
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_BAD_SEQ);
}

TEST(RecordValidatorTest, RecordOfAnotherVehicleIsWrongVehicle) {
  cit::v1::Record r = GoodFix();
  r.set_vehicle_id("CIT-2");
  EXPECT_EQ(Reason(r), cit::v1::REJECT_REASON_WRONG_VEHICLE);
  r.set_vehicle_id("CIT-1");
  EXPECT_FALSE(Reason(r));
}

TEST(RecordValidatorTest, VehicleIdCharset) {
  EXPECT_TRUE(IsValidVehicleId("CIT-0042"));
  EXPECT_TRUE(IsValidVehicleId("truck_7.zh"));
  EXPECT_FALSE(IsValidVehicleId(""));
  EXPECT_FALSE(IsValidVehicleId("-lead"));
  EXPECT_FALSE(IsValidVehicleId("a b"));
  EXPECT_FALSE(IsValidVehicleId(std::string(65, 'a')));
}

}  // namespace
}  // namespace cit::dispatch
