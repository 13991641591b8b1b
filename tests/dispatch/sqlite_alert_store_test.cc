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
  EXPECT_EQ(alerts.last_event_id(), 2u);
  auto a = alerts.Get(id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_EQ(a->actions(0).actor(), "alice");
  // The same condition updates the stored open alert instead of opening a second one.
  EXPECT_EQ(*alerts.Raise({"truck-7", "R-1"}, sig, 0), id);
  // Resume from before what memory holds: read back from the store.
  std::vector<cit::v1::AlertEvent> events;
  auto cursor = alerts.ReadEvents(0, AlertFilter{}, 10, &events);
  ASSERT_TRUE(cursor.ok());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event_id(), 1u);
  EXPECT_EQ(events[0].alert().state(), cit::v1::ALERT_STATE_OPEN);
  EXPECT_EQ(*cursor, 3u);
}

}  // namespace
}  // namespace cit::dispatch
