#include "dispatch-server/store/sqlite_alert_store.h"

#include <gtest/gtest.h>

#include "dispatch-server/alerts/alert_manager.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

TEST(SqliteAlertStoreTest, AlertsAndEventIdsSurviveRestart) {
  cit::test::TempDir dir;
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_PANIC;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.subject = "gpio:17";
  sig.event_time = clock.Now();
  uint64_t id = 0;
  {
    auto store = SqliteAlertStore::Open(dir / "dispatch.db");
    ASSERT_TRUE(store.ok()) << store.status();
    AlertManager alerts(store->get(), &clock);
    ASSERT_TRUE(alerts.Load().ok());
    id = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
    ASSERT_TRUE(alerts.Acknowledge(id, "alice", "on it").ok());
  }
  auto store = SqliteAlertStore::Open(dir / "dispatch.db");
  ASSERT_TRUE(store.ok());
  AlertManager alerts(store->get(), &clock, /*memory_events=*/1);
  ASSERT_TRUE(alerts.Load().ok());
  // Ids continue past the block reserved before the restart, never reusing one.
  EXPECT_GE(alerts.last_event_id(), 2u);
  auto a = alerts.Get(id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_EQ(a->actions(0).actor(), "alice");
  // The same condition updates the stored open alert instead of opening a second one.
  EXPECT_EQ(*alerts.Raise({"truck-7", "R-1"}, sig, 0), id);
  // Resume from before what memory holds: read back from the store, then memory, across the
  // jump in ids.
  std::vector<cit::v1::AlertEvent> events;
  uint64_t cursor = 0;
  for (int calls = 0; calls < 5 && cursor < alerts.last_event_id(); ++calls) {
    auto next = alerts.ReadEvents(cursor, AlertFilter{}, 10, &events);
    ASSERT_TRUE(next.ok()) << next.status();
    cursor = *next;
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event_id(), 1u);
  EXPECT_EQ(events[0].alert().state(), cit::v1::ALERT_STATE_OPEN);
  EXPECT_EQ(events[1].event_id(), 2u);
  EXPECT_EQ(events[2].event_id(), alerts.last_event_id());
  EXPECT_GT(events[2].event_id(), 3u) << "ids jump past the reserved block after a restart";
  EXPECT_EQ(cursor, alerts.last_event_id());
}

TEST(SqliteAlertStoreTest, IdsShownBeforeACrashAreNeverReused) {
  cit::test::TempDir dir;
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_PANIC;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.event_time = clock.Now();
  uint64_t shown_alert = 0, shown_event = 0;
  {
    auto store = SqliteAlertStore::Open(dir / "dispatch.db");
    ASSERT_TRUE(store.ok());
    AlertManager alerts(store->get(), &clock);
    ASSERT_TRUE(alerts.Load().ok());
    sig.subject = "before";
    shown_alert = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
    shown_event = alerts.last_event_id();
    ASSERT_TRUE(alerts.WaitStored().ok());
  }
  // Simulate a crash that lost stored events: wipe them (past the append-only trigger), keep
  // the id reservation.
  {
    auto db = sqlite::Database::Open(dir / "dispatch.db", sqlite::OpenOptions{});
    ASSERT_TRUE(db.ok());
    EXPECT_FALSE((*db)->Exec("DELETE FROM alert_events").ok()) << "alert events are append-only";
    ASSERT_TRUE((*db)
                    ->Exec("DROP TRIGGER alert_events_append_only_delete; DELETE FROM "
                           "alert_events; DELETE FROM alerts;")
                    .ok());
  }
  auto store = SqliteAlertStore::Open(dir / "dispatch.db");
  ASSERT_TRUE(store.ok());
  AlertManager alerts(store->get(), &clock);
  ASSERT_TRUE(alerts.Load().ok());
  sig.subject = "after";
  const uint64_t new_alert = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
  EXPECT_GT(new_alert, shown_alert);
  EXPECT_GT(alerts.last_event_id(), shown_event);
  // A watcher that had seen the lost event resumes after it and still gets the new one.
  std::vector<cit::v1::AlertEvent> events;
  auto cursor = alerts.ReadEvents(shown_event, AlertFilter{}, 10, &events);
  ASSERT_TRUE(cursor.ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].alert().subject(), "after");
}

TEST(SqliteAlertStoreTest, OperatorActionReturnsOnlyOnceStored) {
  cit::test::TempDir dir;
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_SEAL_BROKEN;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.subject = "seal:1";
  sig.event_time = clock.Now();
  auto store = SqliteAlertStore::Open(dir / "dispatch.db");
  ASSERT_TRUE(store.ok());
  AlertManager alerts(store->get(), &clock);
  ASSERT_TRUE(alerts.Load().ok());
  const uint64_t id = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
  ASSERT_TRUE(alerts.Resolve(id, "bob", "false alarm, seal replaced").ok());
  // Read the store directly: the resolution is there the moment Resolve returned.
  auto events = (*store)->EventsAfter(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->back().alert().state(), cit::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(events->back().alert().actions(0).actor(), "bob");
}

}  // namespace
}  // namespace cit::dispatch
