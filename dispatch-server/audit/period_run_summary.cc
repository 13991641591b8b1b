#include "dispatch-server/audit/period_run_summary.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>

namespace cit::dispatch {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

double Seconds(const Timestamp& from, const Timestamp& to) {
  return static_cast<double>(TimeUtil::DurationToNanoseconds(to - from)) / 1e9;
}

StopSummary SummariseStop(const cit::v1::StopReport& stop) {
  StopSummary s;
  s.site = stop.name().empty() ? stop.stop_id() : stop.name();
  if (!IsSet(stop.arrived())) {
    s.outcome = stop.status() == cit::v1::STOP_STATUS_SKIPPED ? StopOutcome::kSkipped
                                                              : StopOutcome::kMissed;
    return s;
  }
  if (IsSet(stop.arrival_earliest()) && stop.arrived() < stop.arrival_earliest()) {
    s.outcome = StopOutcome::kEarly;
    s.delta_s = Seconds(stop.arrival_earliest(), stop.arrived());
  } else if (IsSet(stop.arrival_latest()) && stop.arrived() > stop.arrival_latest()) {
    s.outcome = StopOutcome::kLate;
    s.delta_s = Seconds(stop.arrival_latest(), stop.arrived());
  }
  s.bucket = PunctualityBucketOf(s.delta_s);
  return s;
}

}  // namespace

int PunctualityBucketOf(double delta_s) {
  if (!std::isfinite(delta_s) || delta_s == 0) return 0;
  const double minutes = std::ceil(std::fabs(delta_s) / 60.0);
  const int m = static_cast<int>(std::min<double>(minutes, kMaxBucketMinutes));
  return delta_s < 0 ? -m : m;
}

PeriodRunSummary SummariseRun(const cit::v1::RunReport& report,
                              const std::vector<cit::v1::StoredRecord>& records) {
  PeriodRunSummary s;
  for (const cit::v1::StopReport& stop : report.stops()) s.stops.push_back(SummariseStop(stop));
  s.off_route_m = report.off_route_distance_m();
  s.off_route_s = report.off_route_s();
  s.fixes = report.fixes();
  s.records = records.size();
  // Gaps are judged in event-time order; records come in seq order, which a journal replay
  // after an outage keeps, so the order is the same but for clock steps.
  std::vector<const Timestamp*> times;
  times.reserve(records.size());
  for (const cit::v1::StoredRecord& r : records) {
    times.push_back(&r.record().event_time());
    if (IsSet(r.server_received_time()) &&
        Seconds(r.record().event_time(), r.server_received_time()) > kDelayedS) {
      ++s.delayed_records;
    }
  }
  std::sort(times.begin(), times.end(),
            [](const Timestamp* a, const Timestamp* b) { return *a < *b; });
  for (std::size_t i = 1; i < times.size(); ++i) {
    const double step = Seconds(*times[i - 1], *times[i]);
    if (step > kGapS) {
      ++s.gaps;
      s.gap_s += step;
    }
  }
  return s;
}

double NearestRankPercentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

}  // namespace cit::dispatch
