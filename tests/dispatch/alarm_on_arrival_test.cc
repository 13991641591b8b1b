// Alarms evaluated on arrival (monitor/monitor.h): over real gRPC, a panic from a truck whose
// earlier records were all evaluated is judged on the ingest thread that received it -- not
// after a hand-over to the monitor thread -- and a batch holding an alarm is still evaluated in
// order, so the alarm carries the position of the fix sent just before it. On both store backends
// (Backends/AlarmOnArrivalTest.<case>/sqlite and /postgresql).
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/dispatch/scenario_fixture.h"

namespace cit::dispatch::scenario {
namespace {

using cit::test::TelemetryTestClient;

class AlarmOnArrivalTest : public ScenarioTest {
 protected:
  // A dispatched run along a straight 2 km road; the agent's stream is open.
  void SetUp() override {
    ScenarioTest::SetUp();
    cit::v1::RunPlan plan;
    plan.set_run_id("R-" + vehicle_);
    plan.set_vehicle_id(vehicle_);
    for (int i = 0; i <= 20; ++i) *plan.mutable_route()->add_points() = Along(100.0 * i);
    CreateAndDispatch(plan);
    agent_ = std::make_unique<TelemetryTestClient>(TelemetryChannel());
    ASSERT_GE(agent_->Hello(vehicle_), 0);
  }

  static cit::v1::Position Along(double x_m) {
    cit::v1::Position p;
    p.set_lat_deg(47.3);
    p.set_lon_deg(8.5 + x_m / (111'132.0 * std::cos(47.3 * M_PI / 180)));
    return p;
  }
  cit::v1::Record Fix(double x_m) {
    const cit::v1::Position p = Along(x_m);
    return FixAt(p.lon_deg(), p.lat_deg(), clock_.Now(), 10.0);
  }
  cit::v1::Record Panic(const std::string& source) {
    cit::v1::Record r;
    *r.mutable_event_time() = ToProto(clock_.Now());
    *r.mutable_agent_time() = r.event_time();
    r.mutable_panic()->set_source(source);
    return r;
  }
  // Waits for the RAISED event of the PANIC alert with this subject on the watcher.
  std::optional<cit::v1::Alert> AwaitPanic(Watcher& w, const std::string& subject) {
    std::optional<cit::v1::Alert> found;
    const bool ok = cit::test::WaitFor([&] {
      for (const cit::v1::AlertEvent& e : w.events()) {
        if (e.alert().kind() == cit::v1::ALERT_KIND_PANIC && e.alert().subject() == subject) {
          found = e.alert();
          return true;
        }
      }
      return false;
    });
    return ok ? found : std::nullopt;
  }

  std::unique_ptr<TelemetryTestClient> agent_;
};

// The monitor may be busy for a moment when an alarm arrives (its 50 ms deadline tick, a run
// change being applied): the alarm is then queued, as it should be. The tests send alarms until
// one finds the monitor idle, at most kAttempts times (each attempt waits for its alert).
constexpr int kAttempts = 20;

TEST_P(AlarmOnArrivalTest, APanicIsEvaluatedOnTheThreadThatReceivedIt) {
  Send(*agent_, {Fix(0), Fix(10)});  // evaluated (and flushed): the monitor is idle
  Watcher watcher(*alerts_, rm_->alerts().last_event_id());
  // Alert listeners run on the thread that raised the alert.
  std::mutex mu;
  std::vector<std::thread::id> raisers;
  const int handle = rm_->alerts().AddListener([&] {
    std::lock_guard<std::mutex> lock(mu);
    raisers.push_back(std::this_thread::get_id());
  });
  bool on_arrival = false;
  for (int attempt = 0; attempt < kAttempts && !on_arrival; ++attempt) {
    {
      std::lock_guard<std::mutex> lock(mu);
      raisers.clear();
    }
    const uint64_t before = rm_->monitor().records_evaluated_on_arrival();
    cit::v1::RecordBatch b;
    const std::string subject = "cab button " + std::to_string(attempt);
    *b.add_records() = Panic(subject);
    b.mutable_records(0)->set_seq(++seq_);
    ASSERT_TRUE(agent_->Send(b));
    ASSERT_TRUE(AwaitPanic(watcher, subject).has_value()) << "no PANIC alert on the watcher";
    on_arrival = rm_->monitor().records_evaluated_on_arrival() == before + 1;
  }
  rm_->alerts().RemoveListener(handle);
  ASSERT_TRUE(on_arrival) << "no panic was evaluated on arrival in " << kAttempts << " attempts";
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(raisers.size(), 1u);
  EXPECT_NE(raisers.front(), rm_->monitor().thread_id())
      << "the panic waited for the monitor thread";
  EXPECT_NE(raisers.front(), std::this_thread::get_id());
}

TEST_P(AlarmOnArrivalTest, AnAlarmInABatchIsEvaluatedAfterTheRecordsBeforeIt) {
  Send(*agent_, {Fix(0), Fix(10)});
  Watcher watcher(*alerts_, rm_->alerts().last_event_id());
  bool on_arrival = false;
  for (int attempt = 0; attempt < kAttempts && !on_arrival; ++attempt) {
    const uint64_t before = rm_->monitor().records_evaluated_on_arrival();
    // One batch: the truck moved on by 50 m, then the panic. Judged before that fix, the alert
    // would carry the previous position.
    const double x = 100.0 + 50.0 * attempt;
    const std::string subject = "floor pedal " + std::to_string(attempt);
    cit::v1::RecordBatch b;
    *b.add_records() = Fix(x);
    *b.add_records() = Panic(subject);
    for (cit::v1::Record& r : *b.mutable_records()) r.set_seq(++seq_);
    ASSERT_TRUE(agent_->Send(b));
    const std::optional<cit::v1::Alert> alert = AwaitPanic(watcher, subject);
    ASSERT_TRUE(alert.has_value()) << "no PANIC alert on the watcher";
    EXPECT_NEAR(alert->position().lon_deg(), Along(x).lon_deg(), 1e-9) << "attempt " << attempt;
    EXPECT_NEAR(alert->position().lat_deg(), Along(x).lat_deg(), 1e-9) << "attempt " << attempt;
    on_arrival = rm_->monitor().records_evaluated_on_arrival() == before + 2;
  }
  EXPECT_TRUE(on_arrival) << "no batch was evaluated on arrival in " << kAttempts << " attempts";
  ASSERT_TRUE(agent_->WaitAck(seq_));
}

// Every case on SQLite and on a fresh PostgreSQL database (scenario_fixture.h).
INSTANTIATE_TEST_SUITE_P(Backends, AlarmOnArrivalTest, ::testing::Values("sqlite", "postgresql"),
                         cit::dispatch::test::BackendName);

}  // namespace
}  // namespace cit::dispatch::scenario
