// What the period report keeps of one ended run (docs/reports.md): the outcome of each stop,
// the distance and time off route, and how complete the run's data was. Made once per run from
// its run report and stored records, so a month's report aggregates these rows instead of the
// month's records.
//
//   cit::v1::RunReport report = BuildRunReport(run, records, {});
//   PeriodRunSummary s = SummariseRun(report, records);
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_AUDIT_PERIOD_RUN_SUMMARY_H_
#define CIT_DISPATCH_SERVER_AUDIT_PERIOD_RUN_SUMMARY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

enum class StopOutcome : int { kOnTime = 0, kEarly = 1, kLate = 2, kMissed = 3, kSkipped = 4 };

struct StopSummary {
  std::string site;  // the stop's name, or its stop_id when unnamed
  StopOutcome outcome = StopOutcome::kOnTime;
  // Seconds outside the arrival window: < 0 early, > 0 late, 0 inside (and when not visited).
  double delta_s = 0;
  int bucket = 0;  // PunctualityBucketOf(delta_s); 0 when not visited
};

struct PeriodRunSummary {
  std::vector<StopSummary> stops;
  double off_route_m = 0;
  double off_route_s = 0;
  std::uint64_t records = 0;
  std::uint64_t fixes = 0;
  std::uint64_t gaps = 0;
  double gap_s = 0;
  std::uint64_t delayed_records = 0;
};

// Consecutive records further apart than this (event time) are a gap.
inline constexpr double kGapS = 60;
// A record stored more than this after its event time is delayed.
inline constexpr double kDelayedS = 10;
// The outermost punctuality buckets, minutes.
inline constexpr int kMaxBucketMinutes = 30;

// Minutes bucket of a stop `delta_s` outside its window: 1..60 s early is -1, 61..120 s -2,
// late likewise positive, 0 inside; clamped to +-kMaxBucketMinutes.
int PunctualityBucketOf(double delta_s);

// `records` in seq order, as passed to BuildRunReport for `report`.
PeriodRunSummary SummariseRun(const cit::v1::RunReport& report,
                              const std::vector<cit::v1::StoredRecord>& records);

// Nearest-rank percentile (p in (0, 1]) of `values`, which it sorts; 0 when empty.
double NearestRankPercentile(std::vector<double>& values, double p);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_PERIOD_RUN_SUMMARY_H_
