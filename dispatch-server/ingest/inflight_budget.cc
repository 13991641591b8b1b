#include "dispatch-server/ingest/inflight_budget.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace cit::dispatch {

namespace {

using Steady = std::chrono::steady_clock;

// The "budget engaged" line is logged at most this often; every wait is counted in metrics.
constexpr std::chrono::seconds kLogInterval{10};

struct GaugeDef {
  const char* name;
  const char* help;
  size_t BudgetStats::*field;
};
constexpr GaugeDef kGauges[] = {
    {"cit_ingest_inflight_records", "Records received and not yet committed (all streams)",
     &BudgetStats::records},
    {"cit_ingest_inflight_bytes", "Serialized bytes of records received and not yet committed",
     &BudgetStats::bytes},
    {"cit_ingest_inflight_reserved_records",
     "Records expected from reads already posted (estimates held against the budget)",
     &BudgetStats::reserved_records},
    {"cit_ingest_inflight_peak_records", "Highest cit_ingest_inflight_records since start",
     &BudgetStats::peak_records},
    {"cit_ingest_inflight_peak_bytes", "Highest cit_ingest_inflight_bytes since start",
     &BudgetStats::peak_bytes},
    {"cit_ingest_budget_waiting_streams",
     "Telemetry streams not reading because the in-flight budget is spent", &BudgetStats::waiting},
};

}  // namespace

InflightBudget::InflightBudget(InflightBudgetOptions options, MetricsRegistry* metrics)
    : options_(options),
      metrics_registry_(metrics),
      waits_counter_(metrics->GetCounter(
          "cit_ingest_budget_waits_total",
          "Times a telemetry stream paused reading because the in-flight budget was spent")) {
  for (const GaugeDef& g : kGauges) {
    metrics->AddCallbackGauge(
        g.name, g.help, [this, field = g.field] { return static_cast<double>(Stats().*field); });
  }
}

InflightBudget::~InflightBudget() {
  // The gauge callbacks capture `this`.
  for (const GaugeDef& g : kGauges) {
    metrics_registry_->AddCallbackGauge(g.name, g.help, [] { return 0.0; });
  }
}

bool InflightBudget::FitsLocked(ReadEstimate e, bool light) const {
  const size_t records = stats_.records + stats_.reserved_records;
  const size_t bytes = stats_.bytes + stats_.reserved_bytes;
  // Nothing in flight: any single read fits (an estimate above the budget must not starve).
  if (records == 0 && bytes == 0) return true;
  const size_t max_r = options_.max_records + (light ? options_.reserve_records : 0);
  const size_t max_b = options_.max_bytes + (light ? options_.reserve_bytes : 0);
  return records + e.records <= max_r && bytes + e.bytes <= max_b;
}

Reservation InflightBudget::ReserveLocked(ReadEstimate e) {
  stats_.reserved_records += e.records;
  stats_.reserved_bytes += e.bytes;
  const uint64_t id = next_id_++;
  held_.emplace_hint(held_.end(), id, Held{e, Steady::now()});
  return Reservation{id, e};
}

void InflightBudget::UnreserveLocked(uint64_t id) {
  auto it = held_.find(id);
  if (it == held_.end()) return;  // expired already
  stats_.reserved_records -= std::min(it->second.estimate.records, stats_.reserved_records);
  stats_.reserved_bytes -= std::min(it->second.estimate.bytes, stats_.reserved_bytes);
  held_.erase(it);
}

Reservation InflightBudget::TryReserve(const std::shared_ptr<BudgetWaiter>& waiter, ReadEstimate e,
                                       bool light) {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<Waiting>& queue = light ? light_ : heavy_;
  // Behind waiting light reads a backlog read waits too; within a queue, first come first.
  if (queue.empty() && (light || light_.empty()) && FitsLocked(e, light)) {
    return ReserveLocked(e);
  }
  queue.push_back(Waiting{waiter, e});
  ++stats_.waits;
  stats_.waiting = light_.size() + heavy_.size();
  waits_counter_.Increment();
  LogTransitionLocked();
  return Reservation{};
}

void InflightBudget::Charge(size_t records, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.records += records;
  stats_.bytes += bytes;
  stats_.peak_records = std::max(stats_.peak_records, stats_.records);
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes);
}

void InflightBudget::Unreserve(Reservation r) {
  if (r.id == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    UnreserveLocked(r.id);
  }
  AdmitWaiters();
}

void InflightBudget::ExpireIdle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto cutoff = Steady::now() - options_.idle_after;
    while (!held_.empty() && held_.begin()->second.since < cutoff) {
      UnreserveLocked(held_.begin()->first);
    }
    if (light_.empty() && heavy_.empty()) return;
  }
  AdmitWaiters();
}

bool InflightBudget::HasWaiters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !light_.empty() || !heavy_.empty();
}

void InflightBudget::Release(size_t records, size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.records -= std::min(records, stats_.records);
    stats_.bytes -= std::min(bytes, stats_.bytes);
  }
  AdmitWaiters();
}

void InflightBudget::AdmitWaiters() {
  while (true) {
    std::vector<std::pair<std::shared_ptr<BudgetWaiter>, Reservation>> admitted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Light reads first: they are what keeps live trucks (and their panics) moving.
      for (auto [queue, light] : {std::pair{&light_, true}, std::pair{&heavy_, false}}) {
        // Strict FIFO within a queue: the head blocks the rest, so no stream starves.
        while (!queue->empty()) {
          std::shared_ptr<BudgetWaiter> alive = queue->front().waiter.lock();
          if (!alive) {  // the stream is gone
            queue->pop_front();
            continue;
          }
          if (!FitsLocked(queue->front().estimate, light)) break;
          Waiting w = std::move(queue->front());
          queue->pop_front();
          admitted.emplace_back(std::move(alive), ReserveLocked(w.estimate));
        }
      }
      stats_.waiting = light_.size() + heavy_.size();
      LogTransitionLocked();
    }
    if (admitted.empty()) return;
    bool returned = false;
    for (auto& [waiter, r] : admitted) {
      if (waiter->OnBudgetAdmitted(r)) continue;
      std::lock_guard<std::mutex> lock(mu_);
      UnreserveLocked(r.id);
      returned = true;
    }
    if (!returned) return;  // else the returned budget may admit the next ones
  }
}

void InflightBudget::LogTransitionLocked() {
  const bool waiting = stats_.waiting > 0;
  if (waiting == engaged_) return;
  const auto now = Steady::now();
  if (waiting) {
    if (now - last_log_ < kLogInterval) return;  // flapping: counted, not logged
    engaged_ = true;
    last_log_ = now;
    waits_at_engage_ = stats_.waits;
    spdlog::warn(
        "event=ingest_budget_engaged inflight_records={} inflight_bytes={} max_records={} "
        "max_bytes={} note=\"streams pause reading until commits free budget\"",
        stats_.records, stats_.bytes, options_.max_records, options_.max_bytes);
    return;
  }
  engaged_ = false;
  // waits: streams that paused since the engaged line (including the one that logged it).
  spdlog::warn("event=ingest_budget_cleared waits={} seconds={:.1f} peak_records={}",
               stats_.waits - waits_at_engage_ + 1,
               std::chrono::duration<double>(now - last_log_).count(), stats_.peak_records);
}

BudgetStats InflightBudget::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace cit::dispatch
