// dispatchctl track's table (dispatchctl/track_table.h): what each kind of record says, the
// columns of a fix, and the summary that counts what was shown.
#include "dispatchctl/track_table.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <string>

namespace cit::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

cit::v1::StoredRecord At(uint64_t seq, const char* time) {
  cit::v1::StoredRecord s;
  s.mutable_record()->set_seq(seq);
  google::protobuf::util::TimeUtil::FromString(time, s.mutable_record()->mutable_event_time());
  return s;
}

TEST(TrackTableTest, EachKindOfRecordSaysWhatHappened) {
  cit::v1::Record r;
  r.mutable_door()->set_door(2);
  r.mutable_door()->set_state(cit::v1::DOOR_STATE_OPEN);
  EXPECT_EQ(RecordWhat(r), "DOOR 2 OPEN");
  r.mutable_seal()->set_seal(1);
  r.mutable_seal()->set_state(cit::v1::SEAL_STATE_BROKEN);
  EXPECT_EQ(RecordWhat(r), "SEAL 1 BROKEN");
  r.mutable_panic()->set_source("gpio:17");
  EXPECT_EQ(RecordWhat(r), "PANIC gpio:17");
  r.mutable_crew()->set_badge_id("B-100");
  r.mutable_crew()->set_action(cit::v1::CREW_ACTION_CHECK_OUT);
  EXPECT_EQ(RecordWhat(r), "CREW OUT B-100");
  r.mutable_gnss()->set_state(cit::v1::GNSS_STATE_FIX_LOST);
  EXPECT_EQ(RecordWhat(r), "GNSS FIX_LOST");
  r.mutable_heartbeat();
  EXPECT_EQ(RecordWhat(r), "HEARTBEAT");
  r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
  EXPECT_EQ(RecordWhat(r), "FIX 3D");
  r.mutable_fix()->set_time_suspect(true);
  EXPECT_EQ(RecordWhat(r), "FIX 3D TIME?");
}

TEST(TrackTableTest, AFixShowsPositionSpeedInKmhHeadingSatellitesAndHdop) {
  TrackTable table(TimeZoneChoice::kUtc);
  cit::v1::StoredRecord s = At(42, "2026-12-07T06:00:01Z");
  cit::v1::Fix* f = s.mutable_record()->mutable_fix();
  f->set_mode(cit::v1::FIX_MODE_3D);
  f->set_lat_deg(47.3700001);
  f->set_lon_deg(8.5);
  f->set_speed_mps(10);
  f->set_track_deg(271.4);
  f->set_satellites_used(9);
  f->set_hdop(0.84);
  const std::string line = table.Line(s);
  EXPECT_THAT(line, HasSubstr("2026-12-07T06:00:01Z"));
  EXPECT_THAT(line, HasSubstr(" 42  FIX 3D"));
  EXPECT_THAT(line, HasSubstr("47.370000"));
  EXPECT_THAT(line, HasSubstr("8.500000"));
  EXPECT_THAT(line, HasSubstr(" 36 "));   // 10 m/s
  EXPECT_THAT(line, HasSubstr(" 271 "));  // heading
  EXPECT_THAT(line, HasSubstr(" 9 "));
  EXPECT_THAT(line, HasSubstr("0.8"));
  EXPECT_EQ(line.back(), '\n');

  // Fields gpsd did not report are dashes, not zeros.
  cit::v1::StoredRecord bare = At(43, "2026-12-07T06:00:02Z");
  bare.mutable_record()->mutable_fix()->set_mode(cit::v1::FIX_MODE_2D);
  EXPECT_THAT(table.Line(bare), HasSubstr("     -     -    -     -"));
}

TEST(TrackTableTest, SummaryCountsByKindAndGivesTheTimeSpan) {
  TrackTable table(TimeZoneChoice::kUtc);
  EXPECT_EQ(table.Summary(), "No records in this range.\n");
  for (uint64_t seq = 1; seq <= 1200; ++seq) {
    cit::v1::StoredRecord s = At(seq, "2026-12-07T06:00:00Z");
    s.mutable_record()->mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    table.Line(s);
  }
  cit::v1::StoredRecord door = At(1201, "2026-12-07T06:20:00Z");
  door.mutable_record()->mutable_door()->set_door(1);
  const std::string line = table.Line(door);
  EXPECT_THAT(line, Not(HasSubstr("  \n")));  // no padding after the last column
  EXPECT_EQ(table.Summary(),
            "1,201 records (1 door, 1,200 fixes) from 2026-12-07T06:00:00Z to "
            "2026-12-07T06:20:00Z\n");
}

}  // namespace
}  // namespace cit::ctl
