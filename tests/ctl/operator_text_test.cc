// What operators read in dispatchctl's tables and live lines (dispatchctl/operator_text.h,
// format.h): natural order of ids, local time with its zone, ETA in minutes, the fleet table.
#include "dispatchctl/operator_text.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "dispatchctl/format.h"

namespace cit::ctl {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Timestamp At(int64_t unix_s) { return TimeUtil::SecondsToTimestamp(unix_s); }
constexpr int64_t kNoonUtc = 1'768'478'400;  // 2026-01-15T12:00:00Z

// Sets TZ for one test and restores it, so local-time tests do not depend on the machine.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      setenv("TZ", old_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST(OperatorTextTest, RunIdsSortAsAPersonCounts) {
  std::vector<std::string> ids = {"RUN-12", "RUN-3",  "RUN-100", "RUN-3a",
                                  "ATM-9",  "RUN-03", "S10",     "S2"};
  std::sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) { return NaturalLess(a, b); });
  EXPECT_THAT(ids,
              ElementsAre("ATM-9", "RUN-03", "RUN-3", "RUN-3a", "RUN-12", "RUN-100", "S2", "S10"));
  EXPECT_FALSE(NaturalLess("RUN-3", "RUN-3"));
  EXPECT_TRUE(NaturalLess("2026-01-15-ZH-7", "2026-01-15-ZH-07a"));
  // Digit runs longer than any integer type still compare by value.
  EXPECT_TRUE(NaturalLess("R99999999999999999999999", "R100000000000000000000000"));
}

TEST(OperatorTextTest, LocalTimeCarriesItsZoneAndUtcIsRfc3339) {
  ScopedTimeZone zone("CET-1CEST,M3.5.0,M10.5.0/3");
  EXPECT_EQ(WallClockText(At(kNoonUtc), TimeZoneChoice::kLocal), "2026-01-15 13:00:00 CET");
  EXPECT_EQ(WallClockText(At(kNoonUtc + 182 * 86'400), TimeZoneChoice::kLocal),
            "2026-07-16 14:00:00 CEST");
  EXPECT_EQ(WallClockText(At(kNoonUtc), TimeZoneChoice::kUtc), "2026-01-15T12:00:00Z");
  EXPECT_EQ(WallClockText(Timestamp(), TimeZoneChoice::kLocal), "-");
}

cit::v1::VehicleState NextStop(std::optional<int64_t> eta, std::optional<int64_t> latest,
                               bool late) {
  cit::v1::VehicleState v;
  v.set_vehicle_id("CIT-0001");
  v.set_run_id("RUN-1");
  v.set_next_stop_id("S2");
  if (eta) *v.mutable_next_stop_eta() = At(*eta);
  if (latest) *v.mutable_next_stop_arrival_latest() = At(*latest);
  v.set_next_stop_late(late);
  return v;
}

TEST(OperatorTextTest, EtaIsSaidInMinutesAndLatenessAgainstTheWindow) {
  const Timestamp now = At(kNoonUtc);
  EXPECT_EQ(EtaText(NextStop(kNoonUtc + 240, kNoonUtc + 900, false), now), "in 4 min");
  EXPECT_EQ(EtaText(NextStop(kNoonUtc + 10, std::nullopt, false), now), "due now");
  // The ETA is 12 minutes after the window closes.
  EXPECT_EQ(EtaText(NextStop(kNoonUtc + 1320, kNoonUtc + 600, true), now), "12 min late");
  // The window closed 5 minutes ago and the truck is not there: late by now, not by the ETA.
  EXPECT_EQ(EtaText(NextStop(std::nullopt, kNoonUtc - 300, true), now), "5 min late");
  EXPECT_EQ(EtaText(NextStop(kNoonUtc - 60, kNoonUtc - 300, true), now), "5 min late");
  EXPECT_EQ(EtaText(NextStop(std::nullopt, std::nullopt, true), now), "late");
  EXPECT_EQ(EtaText(NextStop(std::nullopt, std::nullopt, false), now), "-");
  cit::v1::VehicleState idle;
  EXPECT_EQ(EtaText(idle, now), "-");
}

TEST(OperatorTextTest, FleetTableIsInNaturalOrderWithGnssLinkAndAlertsBySeverity) {
  cit::v1::Fleet fleet;
  *fleet.mutable_as_of() = At(kNoonUtc);
  for (const char* id : {"CIT-10", "CIT-2"}) {
    cit::v1::VehicleState* v = fleet.add_vehicles();
    *v = NextStop(kNoonUtc + 240, std::nullopt, false);
    v->set_vehicle_id(id);
    v->set_connected(std::string(id) == "CIT-2");
    v->set_gnss_state(std::string(id) == "CIT-2" ? cit::v1::GNSS_STATE_FIX_ACQUIRED
                                                 : cit::v1::GNSS_STATE_FIX_LOST);
  }
  fleet.mutable_vehicles(0)->set_open_alerts(3);
  fleet.mutable_vehicles(0)->set_open_alerts_critical(1);
  fleet.mutable_vehicles(0)->set_open_alerts_high(2);
  const std::string table = FormatFleet(fleet);
  EXPECT_LT(table.find("CIT-2 "), table.find("CIT-10")) << table;
  EXPECT_THAT(table, HasSubstr("GNSS"));
  EXPECT_THAT(table, HasSubstr("NO FIX"));
  EXPECT_THAT(table, HasSubstr("down"));
  EXPECT_THAT(table, HasSubstr("in 4 min"));
  EXPECT_THAT(table, HasSubstr("3 (1 critical, 2 high)"));
}

TEST(OperatorTextTest, WatchLineShowsLocalTimeAndPlaceAckEchoShowsUtc) {
  ScopedTimeZone zone("CET-1");
  cit::v1::AlertEvent e;
  e.set_type(cit::v1::ALERT_EVENT_TYPE_RAISED);
  cit::v1::Alert* a = e.mutable_alert();
  a->set_alert_id(7);
  a->set_kind(cit::v1::ALERT_KIND_PANIC);
  a->set_severity(cit::v1::SEVERITY_CRITICAL);
  a->set_vehicle_id("CIT-0001");
  *a->mutable_event_time() = At(kNoonUtc);
  a->mutable_position()->set_lat_deg(47.3701234);
  a->mutable_position()->set_lon_deg(8.5012345);
  a->set_state(cit::v1::ALERT_STATE_OPEN);
  const std::string line = FormatAlertEvent(e, {.zone = TimeZoneChoice::kLocal, .place = true});
  EXPECT_THAT(line, HasSubstr("2026-01-15 13:00:00 CET  #7 CRITICAL PANIC  CIT-0001 at "
                              "47.370123,8.501235  OPEN"));
  EXPECT_THAT(line, Not(HasSubstr("\033[")));
  EXPECT_THAT(FormatAlert(*a, {}), HasSubstr("2026-01-15T12:00:00Z"));
  EXPECT_THAT(FormatAlert(*a, {.color = true}), HasSubstr("\033[1;31m#7 CRITICAL PANIC\033[0m"));
}

TEST(OperatorTextTest, AlertHistoryListsEachEventWithTimeActorSeverityAndWhatItSaid) {
  ScopedTimeZone zone("CET-1");
  cit::v1::ListAlertEventsResponse h;
  cit::v1::Alert a;
  a.set_alert_id(9);
  a.set_kind(cit::v1::ALERT_KIND_CREW_INCOMPLETE);
  a.set_severity(cit::v1::SEVERITY_HIGH);
  a.set_vehicle_id("CIT-0001");
  a.set_details("left the depot with 0 crew checked in (2 required)");
  *a.mutable_event_time() = At(kNoonUtc);
  *a.mutable_detected_time() = At(kNoonUtc + 1);
  const auto add = [&](cit::v1::AlertEventType type, const std::string& actor,
                       const std::string& comment, int64_t at) {
    cit::v1::AlertEvent* e = h.add_events();
    e->set_type(type);
    e->set_actor(actor);
    e->set_comment(comment);
    if (at > 0) *e->mutable_time() = At(at);
    *e->mutable_alert() = a;
    return e->mutable_alert();
  };
  add(cit::v1::ALERT_EVENT_TYPE_RAISED, "system", "", 0);  // stored before events had a time
  add(cit::v1::ALERT_EVENT_TYPE_ESCALATED, "escalation",
      "escalation step 1 of 2: not acknowledged after 60 s; severity HIGH -> CRITICAL; notify "
      "supervisor",
      kNoonUtc + 61)
      ->set_severity(cit::v1::SEVERITY_CRITICAL);
  a.set_severity(cit::v1::SEVERITY_CRITICAL);
  h.mutable_events(1)->mutable_alert()->set_policy_step(1);
  add(cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED, "olga", "calling the crew chief", kNoonUtc + 90);
  h.set_updated_omitted(4);
  *h.mutable_alert() = a;

  const std::string text = FormatAlertHistory(h, TimeZoneChoice::kLocal);
  EXPECT_THAT(text, HasSubstr("#9 CRITICAL CREW_INCOMPLETE  CIT-0001"));
  EXPECT_THAT(text, HasSubstr("TIME                     EVENT                      BY"));
  EXPECT_THAT(text, HasSubstr("2026-01-15 13:00:01 CET  RAISED                     system      "
                              "HIGH              left the depot"));
  EXPECT_THAT(text, HasSubstr("2026-01-15 13:01:01 CET  ESCALATED (policy step 1)  escalation  "
                              "HIGH -> CRITICAL  escalation step 1 of 2: not acknowledged after "
                              "60 s; severity HIGH -> CRITICAL; notify supervisor"));
  EXPECT_THAT(text, HasSubstr("2026-01-15 13:01:30 CET  ACKNOWLEDGED               olga        "
                              "CRITICAL          \"calling the crew chief\""));
  EXPECT_THAT(text, HasSubstr("(4 updates while the condition lasted are not listed"));
}

}  // namespace
}  // namespace cit::ctl
