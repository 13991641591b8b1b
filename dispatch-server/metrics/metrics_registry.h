// Prometheus metrics for dispatch-server (DESIGN §10): counters, gauges and histograms with
// labels, rendered in the Prometheus text exposition format on the metrics port (/metrics).
//
//   MetricsRegistry& m = server.metrics();
//   Counter& raised = m.GetCounter("cit_alerts_raised_total", "Alerts raised, by kind",
//                                  {{"kind", "ROUTE_DEVIATION"}});
//   raised.Increment();
//   Histogram& lat = m.GetHistogram("cit_rule_eval_seconds", "Rule evaluation time",
//                                   Histogram::ExponentialBounds(1e-6, 4, 10));
//   lat.Observe(3.2e-6);
//   m.AddCallbackGauge("cit_open_alerts", "Open alerts", [&] { return alerts.OpenCount(); });
//
// Get* returns the same object for the same name and labels, so call it once and keep the
// reference (it stays valid for the registry's lifetime). A name registered as one type cannot
// be registered as another (the call aborts: a programming error).
//
// Thread contract: every method is thread-safe. Counter/Gauge/Histogram updates are lock-free
// atomics; callback gauges run on the scraping thread while Render() holds the registry lock,
// so they must be fast and must not call back into the registry.
#ifndef CIT_DISPATCH_METRICS_METRICS_REGISTRY_H_
#define CIT_DISPATCH_METRICS_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cit::dispatch {

// Label name/value pairs, e.g. {{"reason", "NON_FINITE"}}.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative histogram with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  // start, start*factor, ... (count bounds).
  static std::vector<double> ExponentialBounds(double start, double factor, int count);

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is +Inf).
  uint64_t bucket(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  MetricsRegistry(MetricsRegistry&&) = delete;
  MetricsRegistry& operator=(MetricsRegistry&&) = delete;

  Counter& GetCounter(std::string_view name, std::string_view help,
                      const MetricLabels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  // `upper_bounds` of the first registration of a name win.
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          std::vector<double> upper_bounds, const MetricLabels& labels = {});
  // A gauge whose value is read at scrape time.
  void AddCallbackGauge(std::string_view name, std::string_view help, std::function<double()> fn,
                        const MetricLabels& labels = {});

  // Prometheus text format 0.0.4.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<MetricLabels, Series> series;
  };
  Family& FamilyFor(std::string_view name, std::string_view help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_METRICS_METRICS_REGISTRY_H_
