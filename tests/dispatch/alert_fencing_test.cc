// Alerts fenced by vehicle ownership (issue 15 §3): on one real PostgreSQL database, two record
// stores named "a" and "b" stand for two instances' ownership; "a"'s alert store (and manager)
// writes while "b" took one of its vehicles over, as when "a" was paused (SIGSTOP) past the
// takeover and continues before its ownership poll noticed. The monitor's events of the lost
// vehicle are left out, the rest of the group is stored, and "a"'s memory goes back to what the
// store holds.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/store/postgres_alert_store.h"
#include "dispatch-server/store/postgres_store.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

const SysTime kT0 = SysTime(std::chrono::seconds(1'760'000'000));

cit::v1::AlertEvent Event(uint64_t event_id, uint64_t alert_id, const std::string& vehicle,
                          cit::v1::AlertEventType type, const std::string& actor) {
  cit::v1::AlertEvent e;
  e.set_event_id(event_id);
  e.set_type(type);
  e.set_actor(actor);
  cit::v1::Alert* a = e.mutable_alert();
  a->set_alert_id(alert_id);
  a->set_vehicle_id(vehicle);
  a->set_kind(cit::v1::ALERT_KIND_COMMS_LOST);
  a->set_severity(cit::v1::SEVERITY_HIGH);
  a->set_state(type == cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED ? cit::v1::ALERT_STATE_ACKNOWLEDGED
                                                              : cit::v1::ALERT_STATE_OPEN);
  a->set_revision(1);
  return e;
}

AlertSignal CommsLost(SysTime t) {
  AlertSignal sig;
  sig.kind = cit::v1::ALERT_KIND_COMMS_LOST;
  sig.severity = cit::v1::SEVERITY_HIGH;
  sig.event_time = t;
  sig.details = "no message for 60 s";
  return sig;
}

class AlertFencingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(db_.conninfo().empty()) << "no PostgreSQL database";
    conninfo_ = db_.conninfo();
    owner_a_ = Records("a");
    owner_b_ = Records("b");
    ASSERT_TRUE(owner_a_ && owner_b_);
    // "a" serves both trucks; then CIT-1's agent fails over to "b".
    ASSERT_TRUE(owner_a_->TakeOwnership("CIT-1").ok());
    ASSERT_TRUE(owner_a_->TakeOwnership("CIT-2").ok());
  }
  // The record store of an instance: its migrations make vehicle_seq, its TakeOwnership the
  // owner and token the alert store reads.
  std::unique_ptr<PostgresStore> Records(const std::string& name) {
    PostgresStoreOptions o;
    o.connection = conninfo_;
    o.instance = name;
    auto s = PostgresStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<PostgresAlertStore> Alerts(const std::string& name) {
    auto s = PostgresAlertStore::Open(conninfo_, name);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::vector<cit::v1::Alert> Stored() {
    auto loaded = Alerts("")->Load(100);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.ok() ? loaded->alerts : std::vector<cit::v1::Alert>{};
  }

  test::BackendDb db_{"postgresql"};
  std::string conninfo_;
  std::unique_ptr<PostgresStore> owner_a_, owner_b_;
};

TEST_F(AlertFencingTest, AppendLeavesOutTheMonitorEventsOfAVehicleAnotherInstanceTookOver) {
  ASSERT_TRUE(owner_b_->TakeOwnership("CIT-1").ok());  // token 2
  auto a = Alerts("a");
  ASSERT_TRUE(a);
  const std::vector<cit::v1::AlertEvent> group = {
      Event(1, 1, "CIT-1", cit::v1::ALERT_EVENT_TYPE_RAISED, kMonitorActor),  // lost: fenced
      Event(2, 2, "CIT-2", cit::v1::ALERT_EVENT_TYPE_RAISED, kMonitorActor),  // still a's
      Event(3, 3, "CIT-9", cit::v1::ALERT_EVENT_TYPE_RAISED, kMonitorActor),  // nobody took it
      Event(4, 4, "CIT-1", cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED, "alice"),  // an operator
  };
  std::vector<AlertStore::FencedEvent> fenced;
  ASSERT_TRUE(a->Append(group, &fenced).ok());
  ASSERT_EQ(fenced.size(), 1u);
  EXPECT_EQ(fenced[0].event_id, 1u);
  EXPECT_EQ(fenced[0].vehicle_id, "CIT-1");
  EXPECT_EQ(fenced[0].owner, "b");
  EXPECT_EQ(fenced[0].fencing_token, 2u);

  std::vector<uint64_t> stored_ids;
  for (const cit::v1::Alert& alert : Stored()) stored_ids.push_back(alert.alert_id());
  EXPECT_EQ(stored_ids, (std::vector<uint64_t>{2, 3, 4}));
  auto events = a->EventsAfter(0, 10);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].event_id(), 2u);
  auto chain = a->VerifyChain();
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(chain->intact) << chain->problem;
  EXPECT_EQ(chain->length, 3u) << "no hole where the fenced event would have been";
}

TEST_F(AlertFencingTest, OnlyNamedInstancesFenceAndTheOwnerIsNeverFenced) {
  ASSERT_TRUE(owner_b_->TakeOwnership("CIT-1").ok());
  auto b = Alerts("b");
  auto alone = Alerts("");
  ASSERT_TRUE(b && alone);
  std::vector<AlertStore::FencedEvent> fenced;
  const cit::v1::AlertEvent by_owner =
      Event(1, 1, "CIT-1", cit::v1::ALERT_EVENT_TYPE_RAISED, kMonitorActor);
  ASSERT_TRUE(b->Append({&by_owner, 1}, &fenced).ok());
  EXPECT_TRUE(fenced.empty());
  const cit::v1::AlertEvent unnamed =
      Event(2, 2, "CIT-2", cit::v1::ALERT_EVENT_TYPE_RAISED, kMonitorActor);
  ASSERT_TRUE(alone->Append({&unnamed, 1}, &fenced).ok());
  EXPECT_TRUE(fenced.empty());
  EXPECT_EQ(Stored().size(), 2u);
}

TEST_F(AlertFencingTest, AFencedAlertLeavesNothingInTheManagerAndReleasesTheVehicle) {
  FakeClock clock(kT0);
  auto store = Alerts("a");
  ASSERT_TRUE(store);
  auto metrics = std::make_shared<MetricsRegistry>();
  AlertManager a(store.get(), &clock, 1000, /*id_block=*/10);
  a.SetMetrics(metrics);
  std::vector<AlertStore::FencedEvent> told;
  std::mutex told_mu;
  a.SetFencedListener([&](const AlertStore::FencedEvent& f) {
    std::lock_guard<std::mutex> lock(told_mu);
    told.push_back(f);
  });
  ASSERT_TRUE(a.Load().ok());

  // Stored while "a" owned CIT-1: the alert "a" may keep.
  auto kept = a.Raise({"CIT-1", "run-1"}, CommsLost(kT0), 0);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE(a.Clear("CIT-1", cit::v1::ALERT_KIND_COMMS_LOST, "", kT0, "heard again").ok());
  ASSERT_TRUE(a.WaitStored().ok());
  const cit::v1::Alert kept_stored = *a.Get(*kept);

  ASSERT_TRUE(owner_b_->TakeOwnership("CIT-1").ok());  // a is paused past the takeover
  // a continues: its deadline timers fire before its ownership poll runs.
  ASSERT_TRUE(a.Raise({"CIT-1", "run-1"}, CommsLost(kT0 + std::chrono::seconds(90)), 0).ok());
  AlertSignal dwell = CommsLost(kT0 + std::chrono::seconds(90));
  dwell.kind = cit::v1::ALERT_KIND_DWELL_EXCEEDED;
  auto phantom = a.Raise({"CIT-1", "run-1"}, dwell, 0);
  ASSERT_TRUE(phantom.ok()) << phantom.status();
  auto owned = a.Raise({"CIT-2", "run-2"}, CommsLost(kT0 + std::chrono::seconds(90)), 0);
  ASSERT_TRUE(owned.ok()) << owned.status();
  ASSERT_TRUE(a.WaitStored().ok());

  EXPECT_EQ(a.fenced_events(), 2u);
  EXPECT_EQ(metrics->GetCounter("cit_alerts_fenced_total", "").value(), 2u);
  {
    std::lock_guard<std::mutex> lock(told_mu);
    // Once per vehicle and group (the two raises may have gone in one group or two).
    ASSERT_FALSE(told.empty());
    EXPECT_LE(told.size(), 2u);
    for (const AlertStore::FencedEvent& f : told) {
      EXPECT_EQ(f.vehicle_id, "CIT-1");
      EXPECT_EQ(f.owner, "b");
      EXPECT_EQ(f.fencing_token, 2u);
    }
  }
  // The reoccurrence was never stored: the alert is as stored, cleared; the new one is gone.
  auto kept_now = a.Get(*kept);
  ASSERT_TRUE(kept_now.ok()) << kept_now.status();
  EXPECT_EQ(kept_now->revision(), kept_stored.revision());
  EXPECT_EQ(kept_now->occurrences(), 1u);
  EXPECT_TRUE(kept_now->has_condition_cleared_time());
  EXPECT_EQ(a.Get(*phantom).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.OpenCount("CIT-1"), 1u) << "the cleared, unresolved COMMS_LOST only";
  EXPECT_EQ(a.OpenCount("CIT-2"), 1u);
  // Memory and store agree on every alert.
  std::vector<cit::v1::Alert> stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].alert_id(), *kept);
  EXPECT_EQ(stored[0].revision(), kept_stored.revision());
  EXPECT_EQ(stored[1].alert_id(), *owned);
  EXPECT_EQ(a.List(AlertFilter{}).size(), 2u);
  // A watcher reading this instance's stream from its start now gets no fenced event.
  std::vector<cit::v1::AlertEvent> stream;
  ASSERT_TRUE(a.ReadEvents(0, AlertFilter{}, 100, &stream).ok());
  EXPECT_EQ(stream.size(), 3u) << "raised and cleared on CIT-1, raised on CIT-2";
  for (const cit::v1::AlertEvent& e : stream) EXPECT_NE(e.alert().alert_id(), *phantom);

  // The condition coming back while a still owns the vehicle again opens a real alert.
  ASSERT_TRUE(owner_a_->TakeOwnership("CIT-1").ok());
  auto again = a.Raise({"CIT-1", "run-1"}, dwell, 0);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(*again, *phantom);
  ASSERT_TRUE(a.WaitStored().ok());
  EXPECT_EQ(a.fenced_events(), 2u);
  EXPECT_EQ(Stored().size(), 3u);
}

}  // namespace
}  // namespace cit::dispatch
