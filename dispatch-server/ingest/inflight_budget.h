// The global budget of telemetry in flight (issue 16 §1): records and serialized bytes read
// off streams and not yet committed, across all vehicles. It bounds server memory when
// thousands of agents reconnect at once with hours of backlog, by flow control only: a stream
// over budget does not start its next read (HTTP/2 flow control then holds the agent), nothing
// is dropped or refused.
//
// A read's size is unknown until the message arrives, so each read is admitted against an
// estimate (the stream's previous message, or its Hello.backlog_records before the first),
// reserved until the message arrives and then replaced by what it really brought:
//
//   ReadEstimate e = stream.estimate;
//   if (budget.TryReserve(stream_ptr, e, e.records <= kLightReadRecords)) StartRead(...);
//   // else the stream waits; the budget calls stream->OnBudgetAdmitted(e) later, in order.
//   ... OnReadDone: budget.Charge(units, bytes)  (before queueing for commit)
//                   budget.Unreserve(e)            (the estimate is spent)
//   ... after the commit: budget.Release(units, bytes)
//
// Fairness: waiting streams are admitted strictly first come, first served, so no vehicle
// starves. Live trucks (their reads are small: a few fixes, an urgent panic) have their own
// queue and a small reserve above the budget that backlog readers cannot use, so a panic
// reaches the monitor during a storm instead of waiting behind hours of other trucks' backlog.
//
// Idle reads: a read posted to an agent that then sends nothing (parked truck, agent done with
// its backlog) would hold its estimate for good, and enough of them would starve every waiting
// stream. A reservation older than idle_after is therefore given back (ExpireIdle, called
// periodically); the read stays posted and its message, if one comes, is charged as usual.
//
// Bound: in flight <= max + reserve, plus whatever a message brings beyond its estimate (an
// agent whose previous batch was small sending a full one, a read whose reservation expired);
// at most one max_batch per such read.
//
// Thread contract: every method may be called from any thread; none blocks. Never call
// Unreserve/Release (they admit waiters, whose OnBudgetAdmitted takes the stream's lock) while
// holding a stream's lock; TryReserve and Charge take only the budget's lock.
#ifndef CIT_DISPATCH_INGEST_INFLIGHT_BUDGET_H_
#define CIT_DISPATCH_INGEST_INFLIGHT_BUDGET_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {

// What one read is expected to bring.
struct ReadEstimate {
  size_t records = 0;
  size_t bytes = 0;
};

// A read of at most this many records counts as a live truck's (1 Hz fixes, urgent copies).
inline constexpr size_t kLightReadRecords = 8;
// Bytes per record assumed before a stream's first batch (a fix is ~70-120 serialized bytes).
inline constexpr size_t kEstimatedRecordBytes = 256;

struct InflightBudgetOptions {
  size_t max_records = 200'000;
  size_t max_bytes = 64 << 20;
  // Headroom above max_* for light reads only.
  size_t reserve_records = 10'000;
  size_t reserve_bytes = 4 << 20;
  // A read's reservation is given back after this long without its message (see above).
  std::chrono::milliseconds idle_after{2'000};
};

// A reservation held for one posted read; id 0 = none.
struct Reservation {
  uint64_t id = 0;
  ReadEstimate estimate;
};

// Implemented by whatever waits for budget (a telemetry stream).
class BudgetWaiter {
 public:
  virtual ~BudgetWaiter() = default;
  // `reserved` is now reserved for the waiter's next read. Returns false when the waiter no
  // longer reads (its stream ended): the budget takes the reservation back.
  virtual bool OnBudgetAdmitted(Reservation reserved) = 0;
};

// A snapshot for metrics and tests.
struct BudgetStats {
  size_t records = 0;  // charged: received, not yet committed
  size_t bytes = 0;
  size_t reserved_records = 0;  // estimates of reads posted, message not yet arrived
  size_t reserved_bytes = 0;
  size_t peak_records = 0;  // highest `records` since start
  size_t peak_bytes = 0;
  size_t waiting = 0;  // streams waiting for budget
  uint64_t waits = 0;  // times a stream had to wait
};

class InflightBudget {
 public:
  InflightBudget(InflightBudgetOptions options, MetricsRegistry* metrics);
  ~InflightBudget();
  InflightBudget(const InflightBudget&) = delete;
  InflightBudget& operator=(const InflightBudget&) = delete;

  // Reserves `e` for a read and returns it if it fits (and no one waits ahead in the same
  // queue); otherwise queues `waiter` and returns id 0: OnBudgetAdmitted follows when it fits.
  Reservation TryReserve(const std::shared_ptr<BudgetWaiter>& waiter, ReadEstimate e, bool light);
  // A message brought `records`/`bytes` that now await commit.
  void Charge(size_t records, size_t bytes);
  // A reservation is spent (its message arrived and was charged) or void (the read failed).
  // Id 0 or an expired reservation: nothing to give back.
  void Unreserve(Reservation r);
  // Gives back reservations older than idle_after (admitting waiters). Call periodically.
  void ExpireIdle();
  // Streams wait for budget.
  bool HasWaiters() const;
  // Committed (or failed and forgotten): no longer in flight.
  void Release(size_t records, size_t bytes);

  BudgetStats Stats() const;
  const InflightBudgetOptions& options() const { return options_; }

 private:
  struct Waiting {
    std::weak_ptr<BudgetWaiter> waiter;
    ReadEstimate estimate;
  };
  bool FitsLocked(ReadEstimate e, bool light) const;
  Reservation ReserveLocked(ReadEstimate e);
  void UnreserveLocked(uint64_t id);
  // Admits waiters, in order, while they fit; calls them outside the lock.
  void AdmitWaiters();
  void LogTransitionLocked();

  const InflightBudgetOptions options_;
  MetricsRegistry* const metrics_registry_;
  Counter& waits_counter_;

  mutable std::mutex mu_;  // guards everything below
  BudgetStats stats_;
  std::deque<Waiting> light_;
  std::deque<Waiting> heavy_;
  struct Held {
    ReadEstimate estimate;
    std::chrono::steady_clock::time_point since;
  };
  std::map<uint64_t, Held> held_;  // by id: oldest first
  uint64_t next_id_ = 1;
  bool engaged_ = false;  // last logged state
  std::chrono::steady_clock::time_point last_log_{};
  uint64_t waits_at_engage_ = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_INGEST_INFLIGHT_BUDGET_H_
