#include "dispatch-server/metrics/metrics_registry.h"

#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cstdlib>
#include <iostream>

namespace cit::dispatch {
namespace {

prometheus::Labels ToLabels(const MetricLabels& labels) {
  return prometheus::Labels(labels.begin(), labels.end());
}

// The text format requires `\\` and `\n` escaped in HELP; prometheus-cpp 1.0.1 writes help text
// verbatim (a newline would end the line and corrupt the scrape), so escape it on the way in.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The one ClientMetric of a histogram's snapshot.
prometheus::ClientMetric::Histogram Snapshot(prometheus::Histogram* h) {
  return h->Collect().histogram;
}

}  // namespace

class MetricsRegistry::Collector : public prometheus::Collectable {
 public:
  Collector() : registry_(std::make_shared<prometheus::Registry>()) {}

  prometheus::Registry& registry() { return *registry_; }

  void SetCallback(std::string_view name, std::string_view help, const MetricLabels& labels,
                   std::function<double()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    CallbackFamily& f = callbacks_[std::string(name)];
    f.help = EscapeHelp(help);
    f.series[labels] = std::move(fn);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out = registry_->Collect();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, f] : callbacks_) {
      prometheus::MetricFamily family{name, f.help, prometheus::MetricType::Gauge, {}};
      for (const auto& [labels, fn] : f.series) {
        prometheus::ClientMetric m;
        for (const auto& [k, v] : labels) m.label.push_back({k, v});
        m.gauge.value = fn();
        family.metric.push_back(std::move(m));
      }
      out.push_back(std::move(family));
    }
    return out;
  }

 private:
  struct CallbackFamily {
    std::string help;
    std::map<MetricLabels, std::function<double()>> series;
  };
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;
  std::map<std::string, CallbackFamily, std::less<>> callbacks_;
};

std::vector<double> Histogram::ExponentialBounds(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

uint64_t Histogram::bucket(size_t i) const {
  const prometheus::ClientMetric::Histogram s = Snapshot(h_);
  if (i >= s.bucket.size()) return 0;
  const uint64_t below = i == 0 ? 0 : s.bucket[i - 1].cumulative_count;
  return s.bucket[i].cumulative_count - below;
}

uint64_t Histogram::count() const { return Snapshot(h_).sample_count; }

double Histogram::sum() const { return Snapshot(h_).sample_sum; }

MetricsRegistry::MetricsRegistry() : collector_(std::make_shared<Collector>()) {}

MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::FamilyFor(std::string_view name, std::string_view help,
                                                    Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family family;
    family.type = type;
    family.help = std::string(help);
    it = families_.emplace(std::string(name), std::move(family)).first;
    Family& f = it->second;
    const std::string n(name), h = EscapeHelp(help);
    prometheus::Registry& r = collector_->registry();
    switch (type) {
      case Type::kCounter:
        f.prometheus_family = &prometheus::BuildCounter().Name(n).Help(h).Register(r);
        break;
      case Type::kGauge:
        f.prometheus_family = &prometheus::BuildGauge().Name(n).Help(h).Register(r);
        break;
      case Type::kHistogram:
        f.prometheus_family = &prometheus::BuildHistogram().Name(n).Help(h).Register(r);
        break;
      case Type::kCallbackGauge:
        break;
    }
  } else if (it->second.type != type) {
    std::cerr << "metrics: " << name << " registered with two types\n";
    std::abort();
  }
  return it->second;
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, Type::kCounter);
  std::unique_ptr<Counter>& c = f.counters[labels];
  if (!c) {
    auto* family = static_cast<prometheus::Family<prometheus::Counter>*>(f.prometheus_family);
    c = std::make_unique<Counter>(&family->Add(ToLabels(labels)));
  }
  return *c;
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, Type::kGauge);
  std::unique_ptr<Gauge>& g = f.gauges[labels];
  if (!g) {
    auto* family = static_cast<prometheus::Family<prometheus::Gauge>*>(f.prometheus_family);
    g = std::make_unique<Gauge>(&family->Add(ToLabels(labels)));
  }
  return *g;
}

Histogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         std::vector<double> upper_bounds,
                                         const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, Type::kHistogram);
  // Keep one bucket layout per family.
  if (f.histograms.empty()) f.bounds = std::move(upper_bounds);
  std::unique_ptr<Histogram>& h = f.histograms[labels];
  if (!h) {
    auto* family = static_cast<prometheus::Family<prometheus::Histogram>*>(f.prometheus_family);
    h = std::make_unique<Histogram>(&family->Add(ToLabels(labels), f.bounds), f.bounds);
  }
  return *h;
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help,
                                       std::function<double()> fn, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  FamilyFor(name, help, Type::kCallbackGauge);
  collector_->SetCallback(name, help, labels, std::move(fn));
}

std::weak_ptr<prometheus::Collectable> MetricsRegistry::collectable() const { return collector_; }

std::string MetricsRegistry::Render() const {
  return prometheus::TextSerializer().Serialize(collector_->Collect());
}

}  // namespace cit::dispatch
