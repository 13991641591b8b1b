// The AlertStore contract on both backends (SqliteAlertStore, PostgresAlertStore): each case
// runs on each, through the AlertManager that uses it.
#include <gtest/gtest.h>

#include <map>

#include "dispatch-server/alerts/alert_manager.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

using test::BackendDb;

class AlertStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<AlertStore> Open() {
    auto s = db_.OpenAlertStore();
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Deletes every stored alert and event past the append-only triggers (a simulated loss).
  absl::Status WipeAlerts() {
    if (db_.pg()) {
      return db_.Exec(
          "ALTER TABLE alert_events DISABLE TRIGGER alert_events_append_only; DELETE FROM "
          "alert_events; DELETE FROM alerts;");
    }
    return db_.Exec(
        "DROP TRIGGER alert_events_append_only_delete; DELETE FROM alert_events; DELETE FROM "
        "alerts;");
  }
  BackendDb db_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Backends, AlertStoreTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

TEST_P(AlertStoreTest, AlertsAndEventIdsSurviveRestart) {
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_PANIC;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.subject = "gpio:17";
  sig.event_time = clock.Now();
  uint64_t id = 0;
  {
    std::unique_ptr<AlertStore> store = Open();
    ASSERT_NE(store, nullptr);
    AlertManager alerts(store.get(), &clock);
    ASSERT_TRUE(alerts.Load().ok());
    id = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
    ASSERT_TRUE(alerts.Acknowledge(id, "alice", "on it").ok());
  }
  std::unique_ptr<AlertStore> store = Open();
  ASSERT_NE(store, nullptr);
  AlertManager alerts(store.get(), &clock, /*memory_events=*/1);
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

TEST_P(AlertStoreTest, IdsShownBeforeACrashAreNeverReused) {
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_PANIC;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.event_time = clock.Now();
  uint64_t shown_alert = 0, shown_event = 0;
  {
    std::unique_ptr<AlertStore> store = Open();
    ASSERT_NE(store, nullptr);
    AlertManager alerts(store.get(), &clock);
    ASSERT_TRUE(alerts.Load().ok());
    sig.subject = "before";
    shown_alert = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
    shown_event = alerts.last_event_id();
    ASSERT_TRUE(alerts.WaitStored().ok());
  }
  // Simulate a crash that lost stored events: wipe them (past the append-only trigger), keep
  // the id reservation.
  EXPECT_FALSE(db_.Exec("DELETE FROM alert_events").ok()) << "alert events are append-only";
  ASSERT_TRUE(WipeAlerts().ok());
  std::unique_ptr<AlertStore> store = Open();
  ASSERT_NE(store, nullptr);
  AlertManager alerts(store.get(), &clock);
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

TEST_P(AlertStoreTest, OperatorActionReturnsOnlyOnceStored) {
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_SEAL_BROKEN;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.subject = "seal:1";
  sig.event_time = clock.Now();
  std::unique_ptr<AlertStore> store = Open();
  ASSERT_NE(store, nullptr);
  AlertManager alerts(store.get(), &clock);
  ASSERT_TRUE(alerts.Load().ok());
  const uint64_t id = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
  ASSERT_TRUE(alerts.Resolve(id, "bob", "false alarm, seal replaced").ok());
  // Read the store directly: the resolution is there the moment Resolve returned.
  auto events = store->EventsAfter(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->back().alert().state(), cit::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(events->back().alert().actions(0).actor(), "bob");
}

TEST_P(AlertStoreTest, TheEventLogRefusesUpdateDeleteAndTruncate) {
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  std::unique_ptr<AlertStore> store = Open();
  ASSERT_NE(store, nullptr);
  AlertManager alerts(store.get(), &clock);
  ASSERT_TRUE(alerts.Load().ok());
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_PANIC;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.subject = "gpio:17";
  sig.event_time = clock.Now();
  ASSERT_TRUE(alerts.Raise({"truck-7", "R-1"}, sig, 0).ok());
  ASSERT_TRUE(alerts.WaitStored().ok());
  std::vector<std::string> refused = {"UPDATE alert_events SET alert_id = 99",
                                      "DELETE FROM alert_events"};
  if (db_.pg()) refused.push_back("TRUNCATE alert_events");
  for (const std::string& sql : refused) {
    absl::Status s = db_.Exec(sql);
    EXPECT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.message().find("append-only"), std::string_view::npos) << s;
  }
  auto events = store->EventsAfter(0, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 1u);
}

// Both backends chain the same events to the same hashes (alert_event_chain.h).
TEST(AlertStoreBackendsTest, TheSameEventsGiveTheSameChainOnBothBackends) {
  std::map<std::string, std::vector<std::string>> hashes;
  for (const char* backend : {"sqlite", "postgresql"}) {
    BackendDb db(backend);
    auto store = db.OpenAlertStore();
    ASSERT_TRUE(store.ok()) << store.status();
    std::vector<cit::v1::AlertEvent> events(3);
    for (size_t i = 0; i < events.size(); ++i) {
      events[i].set_event_id(10 + i);
      events[i].mutable_alert()->set_alert_id(1 + i % 2);
      events[i].mutable_alert()->set_vehicle_id("truck-7");
      events[i].mutable_alert()->set_revision(static_cast<uint32_t>(i));
    }
    ASSERT_TRUE((*store)->Append(events).ok());
    hashes[backend] = db.Column("SELECT hash FROM alert_events ORDER BY chain_index");
    auto of_alert = (*store)->EventsOfAlerts(std::vector<uint64_t>{2});
    ASSERT_TRUE(of_alert.ok());
    ASSERT_EQ(of_alert->size(), 1u);
    EXPECT_EQ((*of_alert)[0].event_id(), 11u);
  }
  EXPECT_EQ(hashes["sqlite"].size(), 3u);
  EXPECT_EQ(hashes["sqlite"], hashes["postgresql"]);
}

// The server's login role raises and acknowledges alerts and reserves ids, but cannot change
// the event log, not even by switching its triggers off.
TEST(PostgresAlertStoreTest, TheServerRoleStoresAlertsButCannotChangeTheEventLog) {
  BackendDb db("postgresql");
  ASSERT_TRUE(db.OpenAlertStore().ok()) << "the owner migrates";
  const std::string conninfo = db.ServerRoleConninfo();
  auto store = PostgresAlertStore::Open(conninfo);
  ASSERT_TRUE(store.ok()) << store.status();
  FakeClock clock(FromUnixSeconds(1'796'000'000));
  AlertManager alerts(store->get(), &clock);
  ASSERT_TRUE(alerts.Load().ok());
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_SEAL_BROKEN;
  sig.severity = cit::v1::SEVERITY_CRITICAL;
  sig.subject = "seal:1";
  sig.event_time = clock.Now();
  const uint64_t id = *alerts.Raise({"truck-7", "R-1"}, sig, 0);
  ASSERT_TRUE(alerts.Acknowledge(id, "alice", "on it").ok()) << "alerts rows change in place";
  BackendDb::ExpectRefusedAs(
      conninfo,
      {"UPDATE alert_events SET alert_id = 99", "DELETE FROM alert_events", "TRUNCATE alert_events",
       "ALTER TABLE alert_events DISABLE TRIGGER alert_events_append_only", "DELETE FROM alerts"});
  EXPECT_EQ((*store)->EventsAfter(0, 10)->size(), 2u);
}

}  // namespace
}  // namespace cit::dispatch
