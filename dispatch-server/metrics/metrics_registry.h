// Prometheus metrics for dispatch-server (DESIGN §10): counters, gauges and histograms with
// labels, kept in a prometheus-cpp registry and served on the metrics port (/metrics).
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
// A thin layer over prometheus-cpp (which does the storage, the atomics and the text format with
// its escaping): it keeps the project's call sites short, adds gauges read at scrape time (which
// prometheus-cpp 1.0 lacks) and refuses a name registered as two types.
//
// Get* returns the same object for the same name and labels, so call it once and keep the
// reference (it stays valid for the registry's lifetime). A name registered as one type cannot
// be registered as another (the call aborts: a programming error).
//
// Thread contract: every method is thread-safe. Counter/Gauge/Histogram updates are lock-free
// atomics; callback gauges run on the scraping thread while the registry lock is held, so they
// must be fast and must not call back into the registry.
#ifndef CIT_DISPATCH_METRICS_METRICS_REGISTRY_H_
#define CIT_DISPATCH_METRICS_METRICS_REGISTRY_H_

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

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
  explicit Counter(prometheus::Counter* c) : c_(c) {}
  void Increment(uint64_t n = 1) { c_->Increment(static_cast<double>(n)); }
  uint64_t value() const { return static_cast<uint64_t>(c_->Value()); }

 private:
  prometheus::Counter* c_;
};

class Gauge {
 public:
  explicit Gauge(prometheus::Gauge* g) : g_(g) {}
  void Set(double v) { g_->Set(v); }
  void Add(double v) { g_->Increment(v); }
  double value() const { return g_->Value(); }

 private:
  prometheus::Gauge* g_;
};

// Cumulative histogram with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  Histogram(prometheus::Histogram* h, std::vector<double> upper_bounds)
      : h_(h), bounds_(std::move(upper_bounds)) {}
  void Observe(double v) { h_->Observe(v); }
  // start, start*factor, ... (count bounds).
  static std::vector<double> ExponentialBounds(double start, double factor, int count);

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is +Inf). Reads a snapshot: for
  // benchmarks and tests, not for hot paths.
  uint64_t bucket(size_t i) const;
  uint64_t count() const;
  double sum() const;

 private:
  prometheus::Histogram* h_;
  std::vector<double> bounds_;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
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
  // A gauge whose value is read at scrape time. Registering the same name and labels again
  // replaces the function.
  void AddCallbackGauge(std::string_view name, std::string_view help, std::function<double()> fn,
                        const MetricLabels& labels = {});

  // Prometheus text format 0.0.4 (what /metrics serves).
  std::string Render() const;
  // Everything above as prometheus-cpp families, for an Exposer (it holds a weak reference).
  std::weak_ptr<prometheus::Collectable> collectable() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram, kCallbackGauge };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    void* prometheus_family = nullptr;  // prometheus::Family<T>* for the type
    std::vector<double> bounds;         // histograms
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
  };
  // Self-contained (the prometheus registry and the callback gauges), so an Exposer scraping
  // through its weak reference never touches a destroyed MetricsRegistry.
  class Collector;

  Family& FamilyFor(std::string_view name, std::string_view help, Type type);

  mutable std::mutex mu_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<std::string, Family, std::less<>> families_;
  std::shared_ptr<Collector> collector_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_METRICS_METRICS_REGISTRY_H_
