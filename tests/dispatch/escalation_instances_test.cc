// The escalation policy on several dispatch-server instances sharing one PostgreSQL database
// (issue 15 §3): two alert managers (each on its own PostgresAlertStore, following the other's
// events), each with its own notifier (the outbox they share in the database, as the server
// opens it, the real webhook channel to a receiver on loopback) and the escalation lease in the
// test's own PostgreSQL. Every step is made once fleet-wide and delivered once; when the
// escalating instance is gone, the other takes the lease over and makes the steps still due.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/notify/notifier.h"
#include "dispatch-server/notify/notify_config.h"
#include "dispatch-server/notify/postgres_outbox.h"
#include "dispatch-server/store/postgres_alert_store.h"
#include "dispatch-server/store/postgres_escalation_lease.h"
#include "tests/dispatch/notify_receivers.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch::test {
namespace {

using cit::test::WaitFor;

constexpr auto kLease = std::chrono::milliseconds(1500);

NotifyOptions Policy(int port, const std::filesystem::path& secret) {
  NotifyOptions o;
  o.tick = std::chrono::milliseconds(20);
  o.retry_base = std::chrono::milliseconds(20);
  o.retry_max = std::chrono::milliseconds(200);
  o.max_attempts = 50;
  NotifyTarget hook;
  hook.name = "hook";
  hook.channel = ChannelKind::kWebhook;
  hook.url = "http://127.0.0.1:" + std::to_string(port) + "/citwatch";
  hook.secret_file = secret;
  hook.timeout = std::chrono::milliseconds(5000);
  o.targets.push_back(hook);
  EscalationPolicy policy;
  policy.kinds = {cit::v1::ALERT_KIND_PANIC};
  EscalationStep first;
  first.after = std::chrono::seconds(0);
  first.notify = {"hook"};
  EscalationStep second;
  second.after = std::chrono::seconds(60);
  second.raise_to = cit::v1::SEVERITY_CRITICAL;
  second.notify = {"hook"};
  policy.steps = {first, second};
  o.escalation.push_back(policy);
  return o;
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

// The real lease of an instance that will be killed: a killed process gives nothing up, so its
// stop does not release the lease (everything else goes to the database).
class KilledLease final : public EscalationLease {
 public:
  explicit KilledLease(std::unique_ptr<EscalationLease> lease) : lease_(std::move(lease)) {}
  absl::StatusOr<std::optional<uint64_t>> HoldOrTake() override { return lease_->HoldOrTake(); }
  absl::StatusOr<bool> Holds(uint64_t token) override { return lease_->Holds(token); }
  absl::Status Release(uint64_t) override { return absl::OkStatus(); }

 private:
  std::unique_ptr<EscalationLease> lease_;
};

// One instance: alert manager following the log, notifier holding (or waiting for) the lease.
struct Instance {
  enum class Ending { kKilled, kStopped };
  Instance(const BackendDb& db, const std::string& name, const NotifyOptions& options,
           const Clock* clock, Ending ending = Ending::kKilled,
           std::chrono::milliseconds lease_duration = kLease) {
    auto store = PostgresAlertStore::Open(db.conninfo());
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return;
    alert_store = std::move(*store);
    alerts = std::make_unique<AlertManager>(alert_store.get(), clock);
    EXPECT_TRUE(alerts->Load().ok());
    EXPECT_TRUE(alerts->StartFollowing({.interval = std::chrono::milliseconds(10)}).ok());
    auto outbox = PostgresOutbox::Open(db.conninfo(), name, OutboxClaimDuration(options),
                                       options.max_pending);
    EXPECT_TRUE(outbox.ok()) << outbox.status();
    if (!outbox.ok()) return;
    auto n = Notifier::Open(options, *std::move(outbox), alerts.get(), clock, nullptr);
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok()) return;
    notifier = std::move(*n);
    auto lease = PostgresEscalationLease::Open(db.conninfo(), name, lease_duration);
    EXPECT_TRUE(lease.ok()) << lease.status();
    if (!lease.ok()) return;
    std::unique_ptr<EscalationLease> held = std::move(*lease);
    if (ending == Ending::kKilled) held = std::make_unique<KilledLease>(std::move(held));
    notifier->SetEscalationLease(std::move(held), lease_duration / 3);
    notifier->Start();
  }
  // Gone: nothing renews its lease, its outbox sends nothing more; killed, it gives nothing up,
  // stopped, it releases the lease.
  void End() {
    notifier.reset();
    alerts.reset();
  }
  uint32_t Step(uint64_t alert_id) {
    absl::StatusOr<cit::v1::Alert> a = alerts->Get(alert_id);
    return a.ok() ? a->policy_step() : 0;
  }
  bool ready() const { return notifier != nullptr; }
  Escalator& escalator() { return notifier->escalator(); }

  std::unique_ptr<AlertStore> alert_store;
  std::unique_ptr<AlertManager> alerts;
  std::unique_ptr<Notifier> notifier;
};

// ESCALATED events in the stored chain, by step.
std::map<uint32_t, int> StoredSteps(const BackendDb& db, uint64_t alert_id) {
  pqxx::connection c(db.conninfo());
  pqxx::read_transaction t(c);
  std::map<uint32_t, int> out;
  for (const auto& row :
       t.exec_params("SELECT proto FROM alert_events WHERE alert_id = $1 ORDER BY chain_index",
                     static_cast<int64_t>(alert_id))) {
    cit::v1::AlertEvent e;
    EXPECT_TRUE(e.ParseFromString(pqxx::binarystring(row[0]).str()));
    if (e.type() == cit::v1::ALERT_EVENT_TYPE_ESCALATED) ++out[e.alert().policy_step()];
  }
  return out;
}

class EscalationInstancesTest : public ::testing::Test {
 protected:
  EscalationInstancesTest() { std::ofstream(secret_dir_ / "hook.secret") << "s3cret\n"; }
  // Waits until both escalators have ticked a few more times and both alert managers have
  // stored what they made: whatever either would still do has been done.
  void Settle(std::initializer_list<Instance*> instances) {
    for (Instance* i : instances) {
      const uint64_t from = i->escalator().ticks();
      ASSERT_TRUE(WaitFor([&] { return i->escalator().ticks() >= from + 5; }));
      ASSERT_TRUE(i->alerts->WaitStored().ok());
    }
  }

  BackendDb db_{"postgresql"};
  cit::test::TempDir secret_dir_;
  cit::test::HttpReceiver receiver_;
  // In the past, so that notifications queued at its time are due by the wall clock.
  FakeClock clock_{SystemClock().Now() - std::chrono::hours(1)};
  NotifyOptions options_ = Policy(receiver_.port(), secret_dir_ / "hook.secret");
};

TEST_F(EscalationInstancesTest, TwoInstancesMakeEachStepOnceAndDeliverItOnce) {
  Instance a(db_, "dispatch-a", options_, &clock_);
  Instance b(db_, "dispatch-b", options_, &clock_);
  ASSERT_TRUE(a.ready() && b.ready());
  absl::StatusOr<uint64_t> raised = a.alerts->Raise({"truck-7", "run-1"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(raised.ok()) << raised.status();
  const uint64_t id = *raised;

  ASSERT_TRUE(receiver_.WaitRequests(1)) << "step 1 (after 0 s) delivered";
  ASSERT_TRUE(WaitFor([&] { return a.Step(id) == 1 && b.Step(id) == 1; }));
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(receiver_.WaitRequests(2)) << "step 2 (after 60 s) delivered";
  ASSERT_TRUE(WaitFor([&] { return a.Step(id) == 2 && b.Step(id) == 2; }));
  Settle({&a, &b});

  EXPECT_EQ(StoredSteps(db_, id), (std::map<uint32_t, int>{{1, 1}, {2, 1}}))
      << "one ESCALATED event per step in the chain";
  const std::vector<cit::test::HttpReceiver::Request> got = receiver_.requests();
  ASSERT_EQ(got.size(), 2u) << "one delivery per step";
  EXPECT_NE(got[0].idempotency_key, got[1].idempotency_key);
  EXPECT_NE(a.escalator().leading(), b.escalator().leading()) << "one instance escalates";
}

TEST_F(EscalationInstancesTest, WhenTheEscalatingInstanceDiesTheOtherMakesTheNextStep) {
  Instance a(db_, "dispatch-a", options_, &clock_);
  Instance b(db_, "dispatch-b", options_, &clock_);
  ASSERT_TRUE(a.ready() && b.ready());
  absl::StatusOr<uint64_t> raised = b.alerts->Raise({"truck-7", "run-1"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(raised.ok()) << raised.status();
  const uint64_t id = *raised;
  ASSERT_TRUE(receiver_.WaitRequests(1));
  ASSERT_TRUE(WaitFor([&] { return a.Step(id) == 1 && b.Step(id) == 1; }));
  Instance& leader = a.escalator().leading() ? a : b;
  Instance& survivor = a.escalator().leading() ? b : a;
  ASSERT_TRUE(leader.alerts->WaitStored().ok());
  leader.End();

  clock_.Advance(std::chrono::seconds(61));
  // Once the dead holder's lease expires, the survivor takes it and makes step 2.
  ASSERT_TRUE(WaitFor([&] { return survivor.Step(id) == 2; }, std::chrono::seconds(20)));
  ASSERT_TRUE(survivor.escalator().leading());
  std::set<std::string> keys;
  ASSERT_TRUE(WaitFor([&] {
    keys.clear();
    for (const auto& r : receiver_.requests()) keys.insert(r.idempotency_key);
    return keys.size() == 2;
  })) << "step 2 delivered by the survivor";
  Settle({&survivor});
  EXPECT_EQ(StoredSteps(db_, id), (std::map<uint32_t, int>{{1, 1}, {2, 1}}))
      << "the survivor repeated no step";
  // Taking the lease over, the survivor reconciled: step 1 was already in the shared outbox
  // (delivered), so it was neither queued nor sent again.
  EXPECT_EQ(receiver_.requests().size(), 2u);
}

// A graceful stop hands the lease over at once: with a lease of a minute, the other instance
// still makes the next step within seconds.
TEST_F(EscalationInstancesTest, AStoppedInstanceHandsTheLeaseOverAtOnce) {
  const auto minute = std::chrono::milliseconds(60'000);
  Instance a(db_, "dispatch-a", options_, &clock_, Instance::Ending::kStopped, minute);
  ASSERT_TRUE(a.ready());
  absl::StatusOr<uint64_t> raised = a.alerts->Raise({"truck-7", "run-1"}, Panic(clock_.Now()), 0);
  ASSERT_TRUE(raised.ok()) << raised.status();
  const uint64_t id = *raised;
  ASSERT_TRUE(receiver_.WaitRequests(1)) << "a holds the lease and makes step 1";
  Instance b(db_, "dispatch-b", options_, &clock_, Instance::Ending::kStopped, minute);
  ASSERT_TRUE(b.ready());
  ASSERT_TRUE(WaitFor([&] { return b.Step(id) == 1; }));
  ASSERT_TRUE(a.alerts->WaitStored().ok());
  a.End();
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(WaitFor([&] { return b.Step(id) == 2; }, std::chrono::seconds(20)))
      << "b took the released lease long before it would have expired";
  Settle({&b});
  EXPECT_EQ(StoredSteps(db_, id), (std::map<uint32_t, int>{{1, 1}, {2, 1}}));
}

// The lease itself: one holder at a time, renewed under its token; once the holder stops
// renewing, another takes it under a new token, and the lapsed holder is fenced (its token no
// longer holds, and it does not get the lease back while the other renews it).
TEST(EscalationLeaseTest, OneHolderAtATimeAndALapsedHolderIsFenced) {
  BackendDb db("postgresql");
  ASSERT_TRUE(PostgresAlertStore::Open(db.conninfo()).ok()) << "migrates";
  auto a =
      PostgresEscalationLease::Open(db.conninfo(), "dispatch-a", std::chrono::milliseconds(300));
  auto b =
      PostgresEscalationLease::Open(db.conninfo(), "dispatch-b", std::chrono::milliseconds(300));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  absl::StatusOr<std::optional<uint64_t>> first = (*a)->HoldOrTake();
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  EXPECT_EQ((*b)->HoldOrTake().value(), std::nullopt) << "held by A";
  EXPECT_EQ((*a)->HoldOrTake().value(), *first) << "renewed under the same token";
  EXPECT_TRUE((*a)->Holds(**first).value());

  std::optional<uint64_t> taken;
  ASSERT_TRUE(WaitFor([&] {
    taken = (*b)->HoldOrTake().value_or(std::nullopt);
    return taken.has_value();
  })) << "A stopped renewing: B takes the lease when it expires";
  EXPECT_GT(*taken, **first);
  EXPECT_FALSE((*a)->Holds(**first).value()) << "A's token is fenced";
  EXPECT_EQ((*a)->HoldOrTake().value(), std::nullopt) << "B holds it now";
  EXPECT_TRUE((*b)->Holds(*taken).value());
  ASSERT_TRUE((*a)->Release(**first).ok()) << "a lapsed holder's release changes nothing";
  EXPECT_TRUE((*b)->Holds(*taken).value());
  ASSERT_TRUE((*b)->Release(*taken).ok());
  EXPECT_FALSE((*b)->Holds(*taken).value());
  EXPECT_TRUE((*a)->HoldOrTake().value().has_value()) << "free at once";
}

}  // namespace
}  // namespace cit::dispatch::test
