// `dispatchctl audit identities --at`: the time window parser and "who was in force then, and
// who could acknowledge alerts" replayed from identity-log entries.
#include "dispatchctl/identity_format.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

namespace cit::ctl {
namespace {

using google::protobuf::util::TimeUtil;

cit::v1::IdentityEvent Event(uint64_t index, const std::string& time, cit::v1::IdentityChange c,
                             const std::string& name, const std::string& role,
                             const std::string& fp = "f0") {
  cit::v1::IdentityEvent e;
  e.set_index(index);
  EXPECT_TRUE(TimeUtil::FromString(time, e.mutable_time()));
  e.set_change(c);
  e.set_name(name);
  e.set_role(role);
  e.set_token_fingerprint(fp);
  return e;
}

TEST(ParseTimeWindowTest, DayInstantAndNonsense) {
  auto day = ParseTimeWindow("2027-03-03");
  ASSERT_TRUE(day.has_value());
  EXPECT_TRUE(day->day);
  EXPECT_EQ(TimeUtil::ToString(day->from), "2027-03-03T00:00:00Z");
  EXPECT_EQ(TimeUtil::ToString(day->to), "2027-03-03T23:59:59.999999999Z");
  auto at = ParseTimeWindow("2027-03-03T08:00:00Z");
  ASSERT_TRUE(at.has_value());
  EXPECT_FALSE(at->day);
  EXPECT_EQ(TimeUtil::ToString(at->to), "2027-03-03T08:00:00Z");
  for (const char* bad : {"", "3 March", "2027-13-01", "2027-03-03T", "yesterday"}) {
    EXPECT_FALSE(ParseTimeWindow(bad).has_value()) << bad;
  }
}

TEST(IdentitiesInForceTest, WhoCouldAcknowledgeOnADay) {
  using C = cit::v1::IdentityChange;
  const std::vector<cit::v1::IdentityEvent> log = {
      Event(1, "2027-03-01T06:00:00Z", C::IDENTITY_CHANGE_ADDED, "olga", "operator"),
      Event(2, "2027-03-01T06:00:00Z", C::IDENTITY_CHANGE_ADDED, "aude", "auditor"),
      Event(3, "2027-03-01T06:00:00Z", C::IDENTITY_CHANGE_ADDED, "piet", "operator"),
      // During 3 March: olga becomes an auditor, piet leaves, zed arrives.
      Event(4, "2027-03-03T12:00:00Z", C::IDENTITY_CHANGE_ROLE_CHANGED, "olga", "auditor"),
      Event(5, "2027-03-03T12:00:00Z", C::IDENTITY_CHANGE_REMOVED, "piet", "operator"),
      Event(6, "2027-03-03T12:00:00Z", C::IDENTITY_CHANGE_ADDED, "zed", "dispatcher"),
      // After the day.
      Event(7, "2027-03-05T06:00:00Z", C::IDENTITY_CHANGE_ADDED, "late", "admin"),
  };
  auto who = IdentitiesInForce(log, *ParseTimeWindow("2027-03-03"));
  ASSERT_EQ(who.size(), 4u);  // aude, olga, piet, zed; not late
  EXPECT_EQ(who[0].name, "aude");
  EXPECT_FALSE(who[0].can_acknowledge);
  EXPECT_EQ(who[1].name, "olga");
  EXPECT_EQ(who[1].roles, (std::vector<std::string>{"operator", "auditor"}));
  EXPECT_TRUE(who[1].can_acknowledge) << "an operator for part of the day";
  EXPECT_EQ(who[2].name, "piet");
  EXPECT_TRUE(who[2].can_acknowledge);
  EXPECT_EQ(who[3].name, "zed");
  // At one instant after the change: olga only an auditor, piet gone.
  auto later = IdentitiesInForce(log, *ParseTimeWindow("2027-03-04T00:00:00Z"));
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[1].name, "olga");
  EXPECT_FALSE(later[1].can_acknowledge);
  EXPECT_EQ(later[2].name, "zed");
  // Before anything was recorded: nobody.
  EXPECT_TRUE(IdentitiesInForce(log, *ParseTimeWindow("2027-02-01")).empty());
  // Exactly at the change instant the change holds.
  auto at = IdentitiesInForce(log, *ParseTimeWindow("2027-03-03T12:00:00Z"));
  ASSERT_EQ(at.size(), 3u);
  EXPECT_EQ(at[1].roles, (std::vector<std::string>{"auditor"}));
}

}  // namespace
}  // namespace cit::ctl
