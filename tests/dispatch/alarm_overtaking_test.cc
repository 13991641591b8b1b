// Alarms overtake other vehicles' queued records (monitor/monitor.h, "Alarms ahead of the
// queue"): while the monitor thread is busy with a long queue of one truck's records, another
// truck's panic is evaluated next, not after that queue; a truck's own alarm still waits for
// everything of that truck queued before it (records and run changes), as DESIGN §7 requires.
//
// The monitor thread is held, deterministically, inside the first alert it raises: alert
// listeners run on the raising thread, with the monitor's state lock held (so an alarm arriving
// meanwhile cannot be evaluated on arrival either, and takes the queue). Everything else is the
// real monitor with its own thread, an in-memory AlertManager and RunManager.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/plans/run_manager.h"
#include "tests/dispatch/monitor_harness.h"

namespace cit::dispatch {
namespace {

using test::At;
using test::kT0;

class AlarmOvertakingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runs_.SetListener([this](const RunChange& c) { monitor_.OnRunChanged(c); });
    listener_ = alerts_.AddListener([this] { OnAlertEvent(); });
    monitor_.Start();
  }
  void TearDown() override {
    Open();  // never leave the monitor thread held
    monitor_.Stop();
    alerts_.RemoveListener(listener_);
  }

  // What the monitor had evaluated when an alert event was made, and on which thread.
  struct Seen {
    uint64_t records_processed;
    std::thread::id thread;
  };

  // Alert listener: records the event; holds the monitor thread in its first alert until Open().
  void OnAlertEvent() {
    std::unique_lock<std::mutex> lock(mu_);
    seen_.push_back({monitor_.records_processed(), std::this_thread::get_id()});
    if (seen_.size() != 1 || std::this_thread::get_id() != monitor_.thread_id()) return;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  // Waits until the monitor thread is held in its first alert.
  void AwaitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return held_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  cit::v1::Record Fix(double x_m) {
    cit::v1::Record r;
    const cit::v1::Position p = At(x_m, 0);
    r.mutable_fix()->set_lat_deg(p.lat_deg());
    r.mutable_fix()->set_lon_deg(p.lon_deg());
    r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    return r;
  }
  static cit::v1::Record Panic(const std::string& source) {
    cit::v1::Record r;
    r.mutable_panic()->set_source(source);
    return r;
  }
  // Hands `records` to the monitor as one batch, as the ingest does: the vehicle's next seqs,
  // one second apart in event time (fixes 0.5 m apart are then a plausible walk). The clock
  // stays put, so no record is backfill and no deadline falls due.
  void Send(const std::string& vehicle, std::vector<cit::v1::Record> records) {
    std::vector<CommittedRecord> batch;
    for (cit::v1::Record& r : records) {
      const uint64_t seq = ++seq_[vehicle];
      r.set_seq(seq);
      *r.mutable_event_time() = ToProto(kT0 + FromSeconds(static_cast<double>(seq)));
      batch.push_back({vehicle, std::move(r),
                       std::chrono::time_point_cast<std::chrono::system_clock::duration>(kT0)});
    }
    monitor_.OnAccepted(std::span<const CommittedRecord>(batch));
  }
  // Holds the monitor thread: truck A's batch, too large to be evaluated on arrival, starting
  // with a panic; the monitor thread raises it and is held with the batch's `kFixes` fixes still
  // to evaluate.
  static constexpr int kFixes = Monitor::kMaxRecordsOnArrival;
  void HoldMonitorWithABatchOfA() {
    std::vector<cit::v1::Record> batch{Panic("A first")};
    for (int i = 0; i < kFixes; ++i) batch.push_back(Fix(0));
    Send("truck-A", std::move(batch));
    AwaitHeld();
  }
  // The alert of this kind and subject.
  cit::v1::Alert Alert(const std::string& subject) {
    for (const cit::v1::Alert& a : alerts_.List(AlertFilter{})) {
      if (a.kind() == cit::v1::ALERT_KIND_PANIC && a.subject() == subject) return a;
    }
    ADD_FAILURE() << "no PANIC alert " << subject;
    return {};
  }

  FakeClock clock_{kT0};
  AlertManager alerts_{nullptr, &clock_};
  RunManager runs_{nullptr, &clock_};
  Monitor monitor_{&alerts_, &clock_};
  std::map<std::string, uint64_t> seq_;
  int listener_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool open_ = false;
  std::vector<Seen> seen_;
};

TEST_F(AlarmOvertakingTest, APanicOvertakesAnotherTrucksQueuedRecords) {
  HoldMonitorWithABatchOfA();
  // A long queue of truck A's records behind the ones being evaluated (one batch each, as live
  // fixes come), moving 0.5 m each: 100 m in all, no alert.
  constexpr int kQueued = 200;
  for (int i = 1; i <= kQueued; ++i) Send("truck-A", {Fix(0.5 * i)});
  Send("truck-B", {Panic("B")});
  Open();
  monitor_.Flush();

  // Raised in this order (alert ids follow the raises): A's first panic, B's panic, nothing else.
  const std::vector<cit::v1::Alert> all = alerts_.List(AlertFilter{});
  ASSERT_EQ(all.size(), 2u);
  const std::vector<Seen> seen = this->seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_LT(Alert("A first").alert_id(), Alert("B").alert_id());
  // B's panic was the next record evaluated after the one the monitor was busy with: before
  // the rest of A's batch and A's queue.
  EXPECT_EQ(seen[1].records_processed, 2u) << "B's panic waited for truck A's queued records";
  EXPECT_EQ(seen[1].thread, monitor_.thread_id());
  EXPECT_EQ(monitor_.records_processed(), 1u + kFixes + kQueued + 1u);
}

TEST_F(AlarmOvertakingTest, ATrucksOwnAlarmWaitsForItsQueuedRecords) {
  HoldMonitorWithABatchOfA();
  constexpr int kQueued = 200;
  for (int i = 1; i <= kQueued; ++i) Send("truck-A", {Fix(0.5 * i)});
  Send("truck-A", {Panic("A behind its records")});  // an alarm batch of its own
  Send("truck-B", {Panic("B")});
  Open();
  monitor_.Flush();

  const std::vector<Seen> seen = this->seen();
  ASSERT_EQ(seen.size(), 3u);
  // B overtook; A's second panic did not overtake A's own records: it was raised after all of
  // them (every record evaluated by then), at the position of the last fix queued before it.
  EXPECT_LT(Alert("B").alert_id(), Alert("A behind its records").alert_id());
  EXPECT_EQ(seen[1].records_processed, 2u);
  EXPECT_EQ(seen[2].records_processed, 1u + kFixes + kQueued + 2u);
  const cit::v1::Alert late = Alert("A behind its records");
  EXPECT_NEAR(late.position().lon_deg(), At(0.5 * kQueued, 0).lon_deg(), 1e-9);
  EXPECT_NEAR(late.position().lat_deg(), At(0.5 * kQueued, 0).lat_deg(), 1e-9);
}

TEST_F(AlarmOvertakingTest, AnAlarmWaitsForItsTrucksQueuedRunChange) {
  HoldMonitorWithABatchOfA();
  // B's run is dispatched while the monitor is held: the run change is queued for B.
  cit::v1::RunPlan plan;
  plan.set_run_id("R-B");
  plan.set_vehicle_id("truck-B");
  for (int x = 0; x <= 2'000; x += 500) *plan.mutable_route()->add_points() = At(x, 0);
  ASSERT_TRUE(runs_.Create(plan, "tester").ok());
  ASSERT_TRUE(runs_.Dispatch("R-B", "tester").ok());
  Send("truck-B", {Panic("B")});
  Open();
  monitor_.Flush();
  // Judged before its run change, the panic would belong to no run.
  EXPECT_EQ(Alert("B").run_id(), "R-B");
}

}  // namespace
}  // namespace cit::dispatch
