// What the period report keeps of one run (dispatch-server/audit/period_run_summary.h): stop
// outcomes with their minute buckets, gaps, delayed records, and the percentile it reports.
#include "dispatch-server/audit/period_run_summary.h"

#include <gtest/gtest.h>

namespace cit::dispatch {
namespace {

cit::v1::StoredRecord Rec(int64_t event_s, int64_t received_s) {
  cit::v1::StoredRecord r;
  r.mutable_record()->mutable_event_time()->set_seconds(event_s);
  r.mutable_server_received_time()->set_seconds(received_s);
  return r;
}

cit::v1::StopReport Stop(const char* name, int64_t earliest, int64_t latest, int64_t arrived,
                         cit::v1::StopStatus status = cit::v1::STOP_STATUS_DEPARTED) {
  cit::v1::StopReport s;
  s.set_stop_id("S");
  s.set_name(name);
  s.mutable_arrival_earliest()->set_seconds(earliest);
  s.mutable_arrival_latest()->set_seconds(latest);
  if (arrived > 0) s.mutable_arrived()->set_seconds(arrived);
  s.set_status(status);
  return s;
}

TEST(PeriodRunSummaryTest, BucketsAreWholeMinutesOutsideTheWindowClampedAtThirty) {
  EXPECT_EQ(PunctualityBucketOf(0), 0);
  EXPECT_EQ(PunctualityBucketOf(1), 1);
  EXPECT_EQ(PunctualityBucketOf(60), 1);
  EXPECT_EQ(PunctualityBucketOf(61), 2);
  EXPECT_EQ(PunctualityBucketOf(-30), -1);
  EXPECT_EQ(PunctualityBucketOf(-120), -2);
  EXPECT_EQ(PunctualityBucketOf(-121), -3);
  EXPECT_EQ(PunctualityBucketOf(5 * 3600), 30);
  EXPECT_EQ(PunctualityBucketOf(-5 * 3600), -30);
}

TEST(PeriodRunSummaryTest, StopsAreEarlyLateOnTimeMissedOrSkipped) {
  cit::v1::RunReport report;
  *report.add_stops() = Stop("A", 1000, 2000, 900);   // 100 s early
  *report.add_stops() = Stop("B", 1000, 2000, 2121);  // 121 s late
  *report.add_stops() = Stop("C", 1000, 2000, 1500);  // inside
  *report.add_stops() = Stop("D", 1000, 2000, 0, cit::v1::STOP_STATUS_MISSED);
  *report.add_stops() = Stop("", 1000, 2000, 0, cit::v1::STOP_STATUS_SKIPPED);
  const PeriodRunSummary s = SummariseRun(report, {});
  ASSERT_EQ(s.stops.size(), 5u);
  EXPECT_EQ(s.stops[0].outcome, StopOutcome::kEarly);
  EXPECT_DOUBLE_EQ(s.stops[0].delta_s, -100);
  EXPECT_EQ(s.stops[0].bucket, -2);
  EXPECT_EQ(s.stops[1].outcome, StopOutcome::kLate);
  EXPECT_EQ(s.stops[1].bucket, 3);
  EXPECT_EQ(s.stops[2].outcome, StopOutcome::kOnTime);
  EXPECT_EQ(s.stops[2].bucket, 0);
  EXPECT_EQ(s.stops[3].outcome, StopOutcome::kMissed);
  EXPECT_EQ(s.stops[4].outcome, StopOutcome::kSkipped);
  EXPECT_EQ(s.stops[4].site, "S");  // unnamed: its stop id
}

TEST(PeriodRunSummaryTest, GapsLongerThanAMinuteAndRecordsStoredLateAreCounted) {
  // 0, 10, 80 (gap 70 s), 90, 300 (gap 210 s); the record at 80 arrived 11 s late, at 90 10 s.
  const std::vector<cit::v1::StoredRecord> records = {Rec(0, 1), Rec(10, 11), Rec(80, 91),
                                                      Rec(90, 100), Rec(300, 301)};
  const PeriodRunSummary s = SummariseRun(cit::v1::RunReport(), records);
  EXPECT_EQ(s.records, 5u);
  EXPECT_EQ(s.gaps, 2u);
  EXPECT_DOUBLE_EQ(s.gap_s, 280);
  EXPECT_EQ(s.delayed_records, 1u);
}

TEST(PeriodRunSummaryTest, NearestRankPercentiles) {
  std::vector<double> v = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
  EXPECT_DOUBLE_EQ(NearestRankPercentile(v, 0.5), 5);
  EXPECT_DOUBLE_EQ(NearestRankPercentile(v, 0.95), 10);
  std::vector<double> one = {42};
  EXPECT_DOUBLE_EQ(NearestRankPercentile(one, 0.5), 42);
  std::vector<double> none;
  EXPECT_DOUBLE_EQ(NearestRankPercentile(none, 0.95), 0);
}

}  // namespace
}  // namespace cit::dispatch
