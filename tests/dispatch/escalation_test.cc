// Escalation policy with a fake clock (no sleeps): steps fire when due and not before, each is
// an ESCALATED event in the hash-chained alert log with its notifications in the outbox,
// acknowledging stops it, a restart neither repeats steps nor queues notifications twice, and
// the config refuses what it does not know. The escalation cases run on both store backends
// (Backends/EscalationTest.<case>/sqlite and /postgresql): the alerts and their event log in
// SQLite or in a fresh PostgreSQL database; the notification outbox in the SQLite file on both
// (it follows this test's fake clock; the PostgreSQL outbox, on the database's clock, is tested
// in outbox_test and outbox_instances_test).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "dispatch-server/notify/escalator.h"
#include "dispatch-server/notify/notify_config.h"
#include "dispatch-server/notify/payload.h"
#include "dispatch-server/notify/sqlite_outbox.h"
#include "dispatch-server/store/alert_event_chain.h"
#include "dispatch-server/store/sqlite_alert_store.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

constexpr char kPolicy[] = R"toml(
[notify]
max_pending = 100

[[notify.targets]]
name = "duty"
channel = "exec"
argv = ["/bin/true"]

[[notify.targets]]
name = "supervisor"
channel = "webhook"
url = "http://127.0.0.1:1/hook"
secret_file = "/dev/null"
min_severity = "HIGH"

[[notify.targets]]
name = "other-fleet"
channel = "exec"
argv = ["/bin/true"]
vehicles = ["CIT-99"]

[[escalation]]
kinds = ["PANIC"]
[[escalation.steps]]
after_s = 0
notify = ["duty", "other-fleet"]
[[escalation.steps]]
after_s = 60
notify = ["supervisor"]
raise_to = "CRITICAL"
[[escalation.steps]]
after_s = 300
raise_to = "CRITICAL"
notify = ["duty"]
)toml";

NotifyOptions Parse(const std::string& text) {
  toml::table raw = toml::parse(text);
  absl::StatusOr<NotifyOptions> o = NotifyOptionsFromConfig(raw, {});
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : NotifyOptions{};
}

absl::Status ParseError(const std::string& text) {
  toml::table raw = toml::parse(text);
  return NotifyOptionsFromConfig(raw, {}).status();
}

AlertSignal Panic(SysTime t) {
  AlertSignal s;
  s.kind = cit::v1::ALERT_KIND_PANIC;
  s.severity = cit::v1::SEVERITY_HIGH;
  s.event_time = t;
  s.momentary = true;
  s.details = "panic button";
  return s;
}

class EscalationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Open() {
    auto store = db_.OpenAlertStore();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    alerts_ = std::make_unique<AlertManager>(store_.get(), &clock_);
    ASSERT_TRUE(alerts_->Load().ok());
    auto box = SqliteOutbox::Open(db_.path(), options_.max_pending);
    ASSERT_TRUE(box.ok()) << box.status();
    outbox_ = *std::move(box);
    escalator_ = std::make_unique<Escalator>(alerts_.get(), &options_, outbox_.get(), &clock_,
                                             nullptr, [this] { ++wakes_; });
  }
  void Close() {
    escalator_.reset();
    outbox_.reset();
    ASSERT_TRUE(alerts_->WaitStored().ok());
    alerts_.reset();
    store_.reset();
  }
  std::vector<std::string> PendingKeys() {
    auto pending = outbox_->WithState("pending");
    EXPECT_TRUE(pending.ok());
    std::vector<std::string> keys;
    for (const Notification& n : *pending) keys.push_back(n.key);
    return keys;
  }
  // The stored alert-event chain checked from its first entry, beside the store.
  absl::StatusOr<ChainReport> VerifyStoredAlertChain() {
    if (db_.pg()) {
      auto pg = PostgresAlertStore::Open(db_.conninfo());
      if (!pg.ok()) return pg.status();
      return (*pg)->VerifyChain({});
    }
    auto db = sqlite::Database::Open(db_.path());
    if (!db.ok()) return db.status();
    return VerifyAlertChain(**db, {});
  }
  std::vector<cit::v1::AlertEvent> Events() {
    std::vector<cit::v1::AlertEvent> out;
    EXPECT_TRUE(alerts_->ReadEvents(0, {}, 1000, &out).ok());
    return out;
  }

  test::BackendDb db_{GetParam()};
  FakeClock clock_{FromUnixSeconds(1'700'000'000)};
  NotifyOptions options_ = Parse(kPolicy);
  std::unique_ptr<AlertStore> store_;
  std::unique_ptr<AlertManager> alerts_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Escalator> escalator_;
  int wakes_ = 0;
};

TEST_P(EscalationTest, StepsFireWhenDueAsChainedEventsWithTheirNotifications) {
  Open();
  auto id = alerts_->Raise({"CIT-1", "RUN-1"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(id.ok());
  // Step 1 (after 0 s) at once: notify duty; other-fleet's filter (CIT-99 only) drops it.
  EXPECT_EQ(escalator_->Tick(), 1u);
  EXPECT_EQ(PendingKeys(), std::vector<std::string>{IdempotencyKey(*id, 1, "duty")});
  EXPECT_EQ(wakes_, 1);
  // Not yet 60 s: nothing more, however often it ticks.
  clock_.Advance(std::chrono::seconds(59));
  EXPECT_EQ(escalator_->Tick(), 0u);
  EXPECT_EQ(escalator_->Tick(), 0u);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(escalator_->Tick(), 1u);
  auto alert = alerts_->Get(*id);
  ASSERT_TRUE(alert.ok());
  EXPECT_EQ(alert->policy_step(), 2u);
  EXPECT_EQ(alert->severity(), cit::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(PendingKeys().size(), 2u);
  const std::vector<cit::v1::AlertEvent> events = Events();
  ASSERT_EQ(events.size(), 3u);  // raised, step 1, step 2
  EXPECT_EQ(events[1].type(), cit::v1::ALERT_EVENT_TYPE_ESCALATED);
  EXPECT_EQ(events[1].actor(), "escalation");
  EXPECT_EQ(events[2].comment(),
            "escalation step 2 of 3: not acknowledged after 60 s; severity HIGH -> CRITICAL; "
            "notify supervisor");
  // The payload carries the alert and the event.
  auto pending = outbox_->WithState("pending");
  ASSERT_TRUE(pending.ok());
  nlohmann::json body = nlohmann::json::parse(pending->back().body);
  EXPECT_EQ(body["idempotency_key"], IdempotencyKey(*id, 2, "supervisor"));
  EXPECT_EQ(body["alert"]["vehicle_id"], "CIT-1");
  EXPECT_EQ(body["alert"]["policy_step"], 2);
  EXPECT_EQ(body["event"]["type"], "ALERT_EVENT_TYPE_ESCALATED");
  // The steps are in the hash chain with the other events.
  ASSERT_TRUE(alerts_->WaitStored().ok());
  absl::StatusOr<ChainReport> verified = VerifyStoredAlertChain();
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->intact) << verified->problem;
  EXPECT_EQ(verified->entries_checked, 3u);
}

TEST_P(EscalationTest, AcknowledgingStopsTheEscalation) {
  Open();
  auto id = alerts_->Raise({"CIT-1", "RUN-1"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(escalator_->Tick(), 1u);
  ASSERT_TRUE(alerts_->Acknowledge(*id, "alice", "calling the crew").ok());
  clock_.Advance(std::chrono::seconds(600));
  EXPECT_EQ(escalator_->Tick(), 0u);
  auto alert = alerts_->Get(*id);
  ASSERT_TRUE(alert.ok());
  EXPECT_EQ(alert->policy_step(), 1u);
  EXPECT_EQ(alert->severity(), cit::v1::SEVERITY_HIGH);
  EXPECT_EQ(PendingKeys().size(), 1u);
}

TEST_P(EscalationTest, OverdueStepsAllFireInOneTickInOrder) {
  Open();
  auto id = alerts_->Raise({"CIT-1", "RUN-1"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(id.ok());
  clock_.Advance(std::chrono::seconds(301));
  EXPECT_EQ(escalator_->Tick(), 3u);
  EXPECT_EQ(PendingKeys(), (std::vector<std::string>{IdempotencyKey(*id, 1, "duty"),
                                                     IdempotencyKey(*id, 2, "supervisor"),
                                                     IdempotencyKey(*id, 3, "duty")}));
}

TEST_P(EscalationTest, RestartNeitherRepeatsStepsNorQueuesTwiceAndReconcilesMissingOnes) {
  Open();
  auto id = alerts_->Raise({"CIT-1", "RUN-1"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(id.ok());
  clock_.Advance(std::chrono::seconds(60));
  EXPECT_EQ(escalator_->Tick(), 2u);
  Close();
  // As if the process died after storing step 2's event but before its notification.
  {
    auto db = sqlite::Database::Open(db_.path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DELETE FROM notifications WHERE target = 'supervisor'").ok());
  }
  Open();
  EXPECT_EQ(escalator_->Reconcile(), 1u);  // step 2's notification, stored again
  EXPECT_EQ(escalator_->Reconcile(), 0u);  // and only once
  EXPECT_EQ(escalator_->Tick(), 0u);       // no step runs twice
  EXPECT_EQ(PendingKeys().size(), 2u);
  auto alert = alerts_->Get(*id);
  ASSERT_TRUE(alert.ok());
  EXPECT_EQ(alert->policy_step(), 2u);
}

TEST_P(EscalationTest, TheAlertsHistoryListsEveryStepWithItsTimeAlsoAfterARestart) {
  Open();
  const SysTime t0 = clock_.Now();
  auto id = alerts_->Raise({"CIT-1", "RUN-1"}, Panic(t0), 0);
  ASSERT_TRUE(id.ok());
  // Another alert's events interleave; the history is this alert's alone.
  auto other = alerts_->Raise({"CIT-2", "RUN-2"}, Panic(t0), 0);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(escalator_->Tick(), 2u);  // step 1 of both
  clock_.Advance(std::chrono::seconds(60));
  ASSERT_TRUE(alerts_->Acknowledge(*other, "bob", "mine").ok());
  EXPECT_EQ(escalator_->Tick(), 1u);  // step 2 of the first only
  clock_.Advance(std::chrono::seconds(30));
  ASSERT_TRUE(alerts_->Acknowledge(*id, "alice", "calling the crew").ok());

  const auto check = [&](const std::vector<cit::v1::AlertEvent>& events) {
    ASSERT_EQ(events.size(), 4u);
    const std::vector<std::pair<cit::v1::AlertEventType, std::string>> want = {
        {cit::v1::ALERT_EVENT_TYPE_RAISED, "system"},
        {cit::v1::ALERT_EVENT_TYPE_ESCALATED, "escalation"},
        {cit::v1::ALERT_EVENT_TYPE_ESCALATED, "escalation"},
        {cit::v1::ALERT_EVENT_TYPE_ACKNOWLEDGED, "alice"}};
    const std::vector<int> at_s = {0, 0, 60, 90};
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].alert().alert_id(), *id) << i;
      EXPECT_EQ(events[i].type(), want[i].first) << i;
      EXPECT_EQ(events[i].actor(), want[i].second) << i;
      EXPECT_EQ(FromProto(events[i].time()), t0 + std::chrono::seconds(at_s[i])) << i;
      if (i > 0) {
        EXPECT_GT(events[i].event_id(), events[i - 1].event_id());
      }
    }
    EXPECT_EQ(events[2].alert().policy_step(), 2u);
    EXPECT_EQ(events[2].alert().severity(), cit::v1::SEVERITY_CRITICAL);
    EXPECT_EQ(events[1].alert().severity(), cit::v1::SEVERITY_HIGH);
    EXPECT_EQ(events[3].comment(), "calling the crew");
  };
  // Live: some events may still be on their way to the store.
  auto live = alerts_->EventsOf(*id);
  ASSERT_TRUE(live.ok()) << live.status();
  check(*live);
  // After a restart everything comes from the store.
  Close();
  Open();
  auto stored = alerts_->EventsOf(*id);
  ASSERT_TRUE(stored.ok()) << stored.status();
  check(*stored);
  EXPECT_EQ(alerts_->EventsOf(999'999).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(EscalationTest, AFullOutboxRefusesLoudlyAndNeverBlocks) {
  options_.max_pending = 1;
  Open();
  auto a = alerts_->Raise({"CIT-1", "RUN-1"}, Panic(clock_.Now()), 0);
  auto b = alerts_->Raise({"CIT-2", "RUN-2"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(escalator_->Tick(), 2u);  // both steps are events: the console shows them
  EXPECT_EQ(PendingKeys().size(), 1u);
  Notification n;
  n.key = "k";
  n.target = "duty";
  n.channel = "exec";
  n.body = "{}";
  EXPECT_TRUE(absl::IsResourceExhausted(outbox_->Enqueue(n, clock_.Now()).status()));
}

INSTANTIATE_TEST_SUITE_P(Backends, EscalationTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

TEST(NotifyConfigTest, RefusesUnknownKeysAndNamesWhatIsWrong) {
  EXPECT_TRUE(absl::StrContains(ParseError("[notify]\nmax_pendign = 3\n").message(),
                                "unknown key notify.max_pendign"));
  EXPECT_TRUE(absl::StrContains(
      ParseError("[[notify.targets]]\nname = \"a\"\nchannel = \"exec\"\nargv = [\"/bin/true\"]\n"
                 "colour = \"red\"\n")
          .message(),
      "unknown key notify.targets[0].colour"));
  EXPECT_TRUE(absl::StrContains(
      ParseError("[[escalation]]\nkinds = [\"PANIC\"]\n[[escalation.steps]]\nafter_s = 10\n"
                 "notify = [\"nobody\"]\n")
          .message(),
      "names target \"nobody\""));
  EXPECT_TRUE(absl::StrContains(
      ParseError("[[escalation]]\nkinds = [\"PANIK\"]\n[[escalation.steps]]\nraise_to = "
                 "\"HIGH\"\n")
          .message(),
      "unknown alert kind \"PANIK\""));
  EXPECT_TRUE(absl::StrContains(
      ParseError("[[escalation]]\n[[escalation.steps]]\nafter_s = 10\nraise_to = \"HIGH\"\n"
                 "when = 3\n")
          .message(),
      "unknown key escalation[0].steps[0].when"));
  EXPECT_TRUE(absl::StrContains(
      ParseError("[[escalation]]\n[[escalation.steps]]\nafter_s = 60\nraise_to = \"HIGH\"\n"
                 "[[escalation.steps]]\nafter_s = 30\nraise_to = \"CRITICAL\"\n")
          .message(),
      "time order"));
  EXPECT_TRUE(
      absl::StrContains(ParseError("[[notify.targets]]\nname = \"w\"\nchannel = \"webhook\"\nurl = "
                                   "\"http://x/\"\n")
                            .message(),
                        "secret_file is required"));
  EXPECT_TRUE(absl::StrContains(
      ParseError("[[notify.targets]]\nname = \"w\"\nchannel = \"sms\"\n").message(),
      "channel must be"));
  EXPECT_TRUE(absl::StrContains(ParseError("escalation = 3\n").message(), "[[escalation]]"));
}

TEST(NotifyConfigTest, ParsesAFullExample) {
  NotifyOptions o = Parse(kPolicy);
  ASSERT_EQ(o.targets.size(), 3u);
  EXPECT_EQ(o.targets[1].filter.min_severity, cit::v1::SEVERITY_HIGH);
  ASSERT_EQ(o.escalation.size(), 1u);
  ASSERT_EQ(o.escalation[0].steps.size(), 3u);
  EXPECT_EQ(o.escalation[0].steps[1].after, std::chrono::seconds(60));
  EXPECT_EQ(o.escalation[0].kinds, std::vector<cit::v1::AlertKind>{cit::v1::ALERT_KIND_PANIC});
  EXPECT_EQ(o.max_pending, 100u);
}

}  // namespace
}  // namespace cit::dispatch
