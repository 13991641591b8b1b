// The memory bound's plumbing (issue 16 §1): the start-up plan derived from the configuration,
// and the process memory gauges next to the configured limit. No RSS size is asserted here
// (that is the storm benchmark's job, docs/benchmarks.md): only what the server derives from
// its configuration and that the gauges read real values.
#include "dispatch-server/server/memory_budget.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/metrics/process_memory.h"

namespace cit::dispatch {
namespace {

// The value of an unlabelled sample `name` in Prometheus text, or -1.
double Sample(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

TEST(MemoryBudgetTest, VehiclesWithinLimitFollowTheLimitAndTheInflightBudget) {
  DispatchServerOptions o;
  o.memory_limit_bytes = int64_t{1} << 30;
  o.ingest.budget.max_records = 200'000;
  const MemoryPlan p = PlanMemory(o);
  EXPECT_EQ(p.inflight_records_bytes, 200'000 * kPerInflightRecordBytes);
  EXPECT_EQ(p.vehicles_within_limit,
            (o.memory_limit_bytes - kBaselineBytes - p.inflight_records_bytes) / kPerVehicleBytes);
  // The storm (5,000 vehicles) fits under the default 1 GiB with the default budget.
  EXPECT_GE(p.vehicles_within_limit, 5'000);

  // A smaller in-flight budget leaves room for more vehicles under the same limit.
  o.ingest.budget.max_records = 50'000;
  EXPECT_GT(PlanMemory(o).vehicles_within_limit, p.vehicles_within_limit);

  // No limit: nothing to fit under.
  o.memory_limit_bytes = 0;
  EXPECT_EQ(PlanMemory(o).vehicles_within_limit, -1);
  // A limit below the baseline and the in-flight records leaves room for none, not fewer.
  o.memory_limit_bytes = kBaselineBytes / 2;
  EXPECT_EQ(PlanMemory(o).vehicles_within_limit, 0);
}

TEST(MemoryBudgetTest, ProcessMemoryGaugesReadThisProcessAndTheConfiguredLimit) {
  // Something of our own on the heap, so malloc's in-use count cannot be zero.
  std::vector<char> held(1 << 20, 'x');
  MetricsRegistry metrics;
  RegisterProcessMemoryMetrics(metrics, 123'456'789);
  const std::string text = metrics.Render();
  EXPECT_EQ(Sample(text, "cit_process_memory_limit_bytes"), 123'456'789);
  const double rss = Sample(text, "cit_process_resident_bytes");
  const double peak = Sample(text, "cit_process_resident_peak_bytes");
  EXPECT_GT(rss, 0) << text;
  EXPECT_GE(peak, rss) << text;
  EXPECT_GE(Sample(text, "cit_process_malloc_in_use_bytes"), static_cast<double>(held.size()))
      << text;
  EXPECT_GE(Sample(text, "cit_process_malloc_free_bytes"), 0) << text;
}

}  // namespace
}  // namespace cit::dispatch
