// `dispatchctl report --from/--to/--group` texts (dispatchctl/period_range.h).
#include "dispatchctl/period_range.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

namespace cit::ctl {
namespace {

using google::protobuf::util::TimeUtil;

std::string Show(const Period& p) {
  return TimeUtil::ToString(p.from) + " " + TimeUtil::ToString(p.to);
}

TEST(PeriodRangeTest, MonthsAndDaysRunToTheirEnd) {
  EXPECT_EQ(Show(*ParsePeriod("2026-11", "2026-11")), "2026-11-01T00:00:00Z 2026-12-01T00:00:00Z");
  EXPECT_EQ(Show(*ParsePeriod("2026-12", "2026-12")), "2026-12-01T00:00:00Z 2027-01-01T00:00:00Z");
  EXPECT_EQ(Show(*ParsePeriod("2026-11-03", "2026-11-09")),
            "2026-11-03T00:00:00Z 2026-11-10T00:00:00Z");
  EXPECT_EQ(Show(*ParsePeriod("2026-11-03T06:00:00Z", "2026-11-03T18:00:00+01:00")),
            "2026-11-03T06:00:00Z 2026-11-03T17:00:00Z");
}

TEST(PeriodRangeTest, BadTextsSayWhatIsAccepted) {
  absl::StatusOr<Period> p = ParsePeriod("November", "2026-11");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "--from: 'November' is not a month (2026-11), a day (2026-11-03) or an RFC 3339 time "
            "(2026-11-03T08:00:00Z); months and days are UTC");
  EXPECT_FALSE(ParsePeriod("2026-13", "2026-12").ok());
  EXPECT_FALSE(ParsePeriod("2026-11", "").ok());
  p = ParsePeriod("2026-11-03T08:00:00Z", "2026-11-03T08:00:00Z");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("give --to the same as or later than --from"),
            std::string::npos);
}

TEST(PeriodRangeTest, GroupFilesSkipCommentsAndBlanksAndRefuseIdsWithSpaces) {
  EXPECT_EQ(*ParseVehicleList("# Zurich\nCIT-0001\n\n  CIT-0002 \r\n"),
            (std::vector<std::string>{"CIT-0001", "CIT-0002"}));
  absl::StatusOr<std::vector<std::string>> bad = ParseVehicleList("CIT-0001\nCIT 2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
  std::string many;
  for (int i = 0; i <= 10000; ++i) many += "V" + std::to_string(i) + "\n";
  EXPECT_FALSE(ParseVehicleList(many).ok());
}

}  // namespace
}  // namespace cit::ctl
