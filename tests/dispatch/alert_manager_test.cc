#include "dispatch-server/alerts/alert_manager.h"

#include <gtest/gtest.h>

#include <atomic>

#include "dispatch-server/api/alert_history.h"

namespace cit::dispatch {
namespace {

AlertSignal Deviation(SysTime t, cit::v1::Severity sev = cit::v1::SEVERITY_HIGH) {
  AlertSignal s;
  s.kind = cit::v1::ALERT_KIND_ROUTE_DEVIATION;
  s.severity = sev;
  s.event_time = t;
  s.details = "off route";
  s.record_seq = 9;
  return s;
}

class AlertManagerTest : public ::testing::Test {
 protected:
  FakeClock clock_{FromUnixSeconds(1'700'000'000)};
  AlertManager alerts_{nullptr, &clock_};
  AlertManager::Owner owner_{"truck-7", "run-1"};
};

TEST_F(AlertManagerTest, EachMomentarySignalIsAnOccurrenceOfTheOpenAlert) {
  AlertSignal press = Deviation(clock_.Now());
  press.kind = cit::v1::ALERT_KIND_PANIC;
  press.momentary = true;
  auto a = alerts_.Raise(owner_, press, 0);
  ASSERT_TRUE(a.ok());
  auto b = alerts_.Raise(owner_, press, 0);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  auto alert = alerts_.Get(*a);
  ASSERT_TRUE(alert.ok());
  EXPECT_EQ(alert->occurrences(), 2u);
  // A lasting condition raised again without clearing is the same occurrence.
  auto d = alerts_.Raise(owner_, Deviation(clock_.Now()), 0);
  ASSERT_TRUE(d.ok());
  auto e = alerts_.Raise(owner_, Deviation(clock_.Now()), 0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(alerts_.Get(*d)->occurrences(), 1u);
}

TEST_F(AlertManagerTest, RepeatedConditionUpdatesOneAlert) {
  auto a = alerts_.Raise(owner_, Deviation(clock_.Now()), 0);
  ASSERT_TRUE(a.ok());
  auto b = alerts_.Raise(owner_, Deviation(clock_.Now(), cit::v1::SEVERITY_CRITICAL), 0);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  ASSERT_TRUE(
      alerts_
          .Clear("truck-7", cit::v1::ALERT_KIND_ROUTE_DEVIATION, "", clock_.Now(), "back on route")
          .ok());
  auto c = alerts_.Raise(owner_, Deviation(clock_.Now()), 0);
  EXPECT_EQ(*c, *a);
  auto alert = alerts_.Get(*a);
  ASSERT_TRUE(alert.ok());
  EXPECT_EQ(alert->occurrences(), 2u);
  EXPECT_EQ(alert->severity(), cit::v1::SEVERITY_CRITICAL);
  EXPECT_FALSE(alert->has_condition_cleared_time());
  EXPECT_EQ(alert->revision(), 4u);
  EXPECT_EQ(alerts_.last_event_id(), 4u);
  EXPECT_EQ(alerts_.OpenCount("truck-7"), 1u);
}

TEST_F(AlertManagerTest, LifecycleRecordsOperatorAndComment) {
  const uint64_t id = *alerts_.Raise(owner_, Deviation(clock_.Now()), 0);
  auto acked = alerts_.Acknowledge(id, "alice", "calling crew");
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  auto resolved = alerts_.Resolve(id, "bob", "detour for roadworks");
  ASSERT_TRUE(resolved.ok());
  ASSERT_EQ(resolved->actions_size(), 2);
  EXPECT_EQ(resolved->actions(0).actor(), "alice");
  EXPECT_EQ(resolved->actions(1).actor(), "bob");
  EXPECT_EQ(resolved->actions(1).comment(), "detour for roadworks");
  EXPECT_EQ(alerts_.Acknowledge(id, "alice", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(alerts_.Resolve(99, "bob", "").status().code(), absl::StatusCode::kNotFound);
  // After resolution the same condition opens a new alert.
  const uint64_t again = *alerts_.Raise(owner_, Deviation(clock_.Now()), 0);
  EXPECT_NE(again, id);
}

TEST_F(AlertManagerTest, ResolvingACriticalAlertNeedsAComment) {
  auto id = alerts_.Raise(owner_, Deviation(clock_.Now(), cit::v1::SEVERITY_CRITICAL), 0);
  ASSERT_TRUE(id.ok());
  auto refused = alerts_.Resolve(*id, "bob", " ");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("comment"), std::string::npos);
  EXPECT_EQ(alerts_.Get(*id)->state(), cit::v1::ALERT_STATE_OPEN);
  // Acknowledging needs none; a HIGH alert resolves without one.
  EXPECT_TRUE(alerts_.Acknowledge(*id, "bob", "").ok());
  EXPECT_TRUE(alerts_.Resolve(*id, "bob", "crew called, all well").ok());
  auto high = alerts_.Raise({"truck-8", "run-2"}, Deviation(clock_.Now()), 0);
  ASSERT_TRUE(high.ok());
  EXPECT_TRUE(alerts_.Resolve(*high, "bob", "").ok());
}

TEST_F(AlertManagerTest, EventsSayWhatHappenedWhoDidItAndUnderWhichPlanVersion) {
  AlertManager::Owner owner{"truck-7", "run-1", 3};
  auto id = alerts_.Raise(owner, Deviation(clock_.Now()), 0);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(alerts_.Raise(owner, Deviation(clock_.Now(), cit::v1::SEVERITY_CRITICAL), 0).ok());
  ASSERT_TRUE(
      alerts_
          .Clear("truck-7", cit::v1::ALERT_KIND_ROUTE_DEVIATION, "", clock_.Now(), "back on route")
          .ok());
  ASSERT_TRUE(alerts_.Raise(owner, Deviation(clock_.Now()), 0).ok());
  ASSERT_TRUE(alerts_.Acknowledge(*id, "olga", "calling").ok());
  ASSERT_TRUE(alerts_.Resolve(*id, "olga", "detour").ok());
  std::vector<cit::v1::AlertEvent> events;
  ASSERT_TRUE(alerts_.ReadEvents(0, {}, 100, &events).ok());
  std::vector<cit::v1::AlertEventType> types;
  for (const auto& e : events) types.push_back(e.type());
  EXPECT_EQ(types,
            (std::vector<cit::v1::AlertEventType>{
                cit::v1::ALERT_EVENT_TYPE_RAISED, cit::v1::ALERT_EVENT_TYPE_ESCALATED,
                cit::v1::ALERT_EVENT_TYPE_CLEARED, cit::v1::ALERT_EVENT_TYPE_REOCCURRED,
                cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED, cit::v1::ALERT_EVENT_TYPE_RESOLVED}));
  EXPECT_EQ(events[0].actor(), "system");
  EXPECT_EQ(events[4].actor(), "olga");
  EXPECT_EQ(events[4].comment(), "calling");
  EXPECT_EQ(events.back().alert().plan_version(), 3u);
}

TEST_F(AlertManagerTest, DelayedAlertCarriesTheDelay) {
  const uint64_t id =
      *alerts_.Raise(owner_, Deviation(clock_.Now() - std::chrono::seconds(600)), 600);
  auto alert = alerts_.Get(id);
  EXPECT_TRUE(alert->delayed());
  EXPECT_DOUBLE_EQ(alert->delay_s(), 600);
}

TEST_F(AlertManagerTest, ReadEventsResumesAfterCursorWithFilter) {
  AlertManager::Owner other{"truck-8", ""};
  alerts_.Raise(owner_, Deviation(clock_.Now()), 0).IgnoreError();  // event 1
  alerts_.Raise(other, Deviation(clock_.Now()), 0).IgnoreError();   // event 2
  AlertSignal low = Deviation(clock_.Now(), cit::v1::SEVERITY_LOW);
  low.kind = cit::v1::ALERT_KIND_EARLY_ARRIVAL;
  alerts_.Raise(owner_, low, 0).IgnoreError();  // event 3
  AlertFilter filter;
  filter.vehicle_ids = {"truck-7"};
  filter.min_severity = cit::v1::SEVERITY_MEDIUM;
  std::vector<cit::v1::AlertEvent> out;
  auto cursor = alerts_.ReadEvents(0, filter, 10, &out);
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, 3u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event_id(), 1u);
  out.clear();
  EXPECT_EQ(*alerts_.ReadEvents(1, AlertFilter{}, 1, &out), 2u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].alert().vehicle_id(), "truck-8");
}

TEST_F(AlertManagerTest, ListenersHearEveryChangeUntilRemoved) {
  std::atomic<int> calls{0};
  const int h = alerts_.AddListener([&] { ++calls; });
  const uint64_t id = *alerts_.Raise(owner_, Deviation(clock_.Now()), 0);
  alerts_.Acknowledge(id, "alice", "").IgnoreError();
  alerts_.RemoveListener(h);
  alerts_.Resolve(id, "alice", "").IgnoreError();
  EXPECT_EQ(calls.load(), 2);
  uint64_t as_of = 0;
  EXPECT_TRUE(alerts_.OpenSnapshot(AlertFilter{}, &as_of).empty());
  EXPECT_EQ(as_of, 3u);
}

TEST_F(AlertManagerTest, EventsOfOneAlertInOrderWithTheirTimes) {
  const SysTime t0 = clock_.Now();
  const uint64_t id = *alerts_.Raise(owner_, Deviation(t0), 0);
  AlertManager::Owner other{"truck-8", "run-2"};
  ASSERT_TRUE(alerts_.Raise(other, Deviation(t0), 0).ok());
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_TRUE(alerts_.Raise(owner_, Deviation(clock_.Now()), 0).ok());  // UPDATED
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_TRUE(alerts_.Acknowledge(id, "olga", "on it").ok());
  auto events = alerts_.EventsOf(id);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].type(), cit::v1::ALERT_EVENT_TYPE_RAISED);
  EXPECT_EQ((*events)[1].type(), cit::v1::ALERT_EVENT_TYPE_UPDATED);
  EXPECT_EQ((*events)[2].type(), cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED);
  EXPECT_EQ(FromProto((*events)[0].time()), t0);
  EXPECT_EQ(FromProto((*events)[2].time()), t0 + std::chrono::seconds(10));
  EXPECT_EQ(alerts_.EventsOf(12345).status().code(), absl::StatusCode::kNotFound);
}

std::vector<cit::v1::AlertEvent> History(std::initializer_list<cit::v1::AlertEventType> types) {
  std::vector<cit::v1::AlertEvent> out;
  uint64_t id = 0;
  for (cit::v1::AlertEventType t : types) {
    cit::v1::AlertEvent e;
    e.set_event_id(++id);
    e.set_type(t);
    out.push_back(e);
  }
  return out;
}

std::vector<uint64_t> Ids(const AlertHistory& h) {
  std::vector<uint64_t> ids;
  for (const auto& e : h.events) ids.push_back(e.event_id());
  return ids;
}

TEST(AlertHistoryTest, UpdatesAreLeftOutAndCountedUnlessAskedFor) {
  using T = cit::v1::AlertEventType;
  const T raised = cit::v1::ALERT_EVENT_TYPE_RAISED, updated = cit::v1::ALERT_EVENT_TYPE_UPDATED,
          escalated = cit::v1::ALERT_EVENT_TYPE_ESCALATED;
  AlertHistory h =
      SelectHistory(History({raised, updated, updated, escalated, updated}), false, 10);
  EXPECT_EQ(Ids(h), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(h.updated_omitted, 3u);
  EXPECT_EQ(h.events_omitted, 0u);
  h = SelectHistory(History({raised, updated, updated, escalated, updated}), true, 10);
  EXPECT_EQ(Ids(h), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(h.updated_omitted, 0u);
}

TEST(AlertHistoryTest, BeyondTheLimitTheOldestAndNewestHalvesAreKept) {
  const auto r = cit::v1::ALERT_EVENT_TYPE_REOCCURRED;
  AlertHistory h = SelectHistory(History({r, r, r, r, r, r, r}), false, 4);
  EXPECT_EQ(Ids(h), (std::vector<uint64_t>{1, 2, 6, 7}));
  EXPECT_EQ(h.events_omitted, 3u);
  h = SelectHistory(History({r, r, r, r, r, r, r}), false, 3);
  EXPECT_EQ(Ids(h), (std::vector<uint64_t>{1, 2, 7}));
  EXPECT_EQ(h.events_omitted, 4u);
  h = SelectHistory(History({r, r}), false, 2);
  EXPECT_EQ(Ids(h), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(h.events_omitted, 0u);
}

}  // namespace
}  // namespace cit::dispatch
