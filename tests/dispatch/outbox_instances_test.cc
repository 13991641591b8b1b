// Delivery from the outbox two instances share in PostgreSQL (postgres_outbox.h), through the
// real webhook channel to a receiver on loopback: a notification queued by an instance that
// dies (claimed and never marked, or never attempted) is delivered by the survivor exactly once
// with the idempotency key it was queued with; two live instances delivering at the same time
// never send one notification twice, and each counts its own deliveries.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <pqxx/pqxx>

#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/notify/delivery_worker.h"
#include "dispatch-server/notify/notifier.h"
#include "dispatch-server/notify/postgres_outbox.h"
#include "tests/dispatch/notify_receivers.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch::test {
namespace {

using cit::test::WaitFor;
using std::chrono::milliseconds;

// One instance's delivery side: its outbox connection, its worker, its metrics.
struct Instance {
  Instance(const BackendDb& db, const std::string& name, const NotifyOptions& options,
           milliseconds claim) {
    auto box = PostgresOutbox::Open(db.conninfo(), name, claim, options.max_pending);
    EXPECT_TRUE(box.ok()) << box.status();
    if (!box.ok()) return;
    outbox = std::move(*box);
    std::map<std::string, std::unique_ptr<Channel>> channels;
    for (const NotifyTarget& t : options.targets) {
      auto c = MakeChannel(t);
      EXPECT_TRUE(c.ok()) << c.status();
      if (c.ok()) channels.emplace(t.name, std::move(*c));
    }
    worker = std::make_unique<DeliveryWorker>(outbox.get(), std::move(channels), options, &metrics);
  }
  uint64_t delivered() const { return metrics.For("webhook")->delivered->value(); }

  std::unique_ptr<PostgresOutbox> outbox;
  NotifyMetrics metrics{std::make_shared<MetricsRegistry>()};
  std::unique_ptr<DeliveryWorker> worker;
};

Notification Make(const std::string& key) {
  Notification n;
  n.key = key;
  n.target = "hook";
  n.channel = "webhook";
  n.body = R"({"key":")" + key + R"("})";
  return n;
}

// Who delivered each notification, read beside the instances.
std::map<std::string, std::string> DeliveredBy(const BackendDb& db) {
  pqxx::connection c(db.conninfo());
  pqxx::read_transaction t(c);
  std::map<std::string, std::string> out;
  for (const auto& row : t.exec("SELECT key, delivered_by FROM notifications "
                                "WHERE state = 'delivered'")) {
    out[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  return out;
}

class OutboxInstancesTest : public ::testing::Test {
 protected:
  OutboxInstancesTest() {
    std::ofstream(dir_ / "hook.secret") << "s3cret\n";
    options_.retry_base = milliseconds(20);
    options_.retry_max = milliseconds(200);
    options_.max_attempts = 50;
    NotifyTarget t;
    t.name = "hook";
    t.channel = ChannelKind::kWebhook;
    t.url = "http://127.0.0.1:" + std::to_string(receiver_.port()) + "/citwatch";
    t.secret_file = dir_ / "hook.secret";
    t.timeout = milliseconds(5000);
    options_.targets.push_back(t);
  }
  // Requests per idempotency key.
  std::map<std::string, int> ByKey() {
    std::map<std::string, int> out;
    for (const auto& r : receiver_.requests()) ++out[r.idempotency_key];
    return out;
  }

  BackendDb db_{"postgresql"};
  cit::test::TempDir dir_;
  cit::test::HttpReceiver receiver_;
  NotifyOptions options_;
};

// A claimed one notification (its worker took it) and died before sending it; it had queued a
// second one it never got to. B, alive all along, delivers both: the second at once, the first
// once A's claim expired; each exactly once, with the key A queued it under.
TEST_F(OutboxInstancesTest, WhatADeadInstanceQueuedIsDeliveredByTheSurvivorOnce) {
  auto a = std::make_unique<Instance>(db_, "dispatch-a", options_, milliseconds(800));
  Instance b(db_, "dispatch-b", options_, milliseconds(800));
  ASSERT_TRUE(a->outbox && b.outbox);
  ASSERT_TRUE(a->outbox->Enqueue(Make("17-1-hook"), SystemClock().Now()).value());
  auto claimed = a->outbox->Due(SystemClock().Now(), DeliveryWorker::kBatch);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 1u) << claimed.status();
  ASSERT_TRUE(a->outbox->Enqueue(Make("18-1-hook"), SystemClock().Now()).value());
  a.reset();  // gone: its claim stays until it expires; nothing of A sends anything

  b.worker->Start();
  ASSERT_TRUE(WaitFor([&] { return b.outbox->CountState("delivered").value_or(0) == 2; },
                      std::chrono::seconds(20)))
      << "B delivers both";
  EXPECT_EQ(ByKey(), (std::map<std::string, int>{{"17-1-hook", 1}, {"18-1-hook", 1}}));
  EXPECT_EQ(DeliveredBy(db_), (std::map<std::string, std::string>{{"17-1-hook", "dispatch-b"},
                                                                  {"18-1-hook", "dispatch-b"}}));
  EXPECT_EQ(b.delivered(), 2u) << "B's own count";
  EXPECT_EQ(b.outbox->CountState("pending").value(), 0u);
}

// A receiver that is down: A's attempts fail and are retried; A dies; the receiver comes back
// and B delivers, once, with the key every attempt carried.
TEST_F(OutboxInstancesTest, RetriesOfADeadInstanceAreContinuedByTheSurvivorWithTheSameKey) {
  receiver_.set_status(503);
  auto a = std::make_unique<Instance>(db_, "dispatch-a", options_, milliseconds(800));
  ASSERT_TRUE(a->outbox);
  ASSERT_TRUE(a->outbox->Enqueue(Make("21-1-hook"), SystemClock().Now()).value());
  a->worker->Start();
  ASSERT_TRUE(receiver_.WaitRequests(2)) << "A attempts and retries";
  a->worker->Stop();
  EXPECT_GE(a->metrics.For("webhook")->retries->value(), 2u);
  a.reset();
  receiver_.set_status(200);
  Instance b(db_, "dispatch-b", options_, milliseconds(800));
  ASSERT_TRUE(b.outbox);
  b.worker->Start();
  ASSERT_TRUE(WaitFor([&] { return b.outbox->CountState("delivered").value_or(0) == 1; },
                      std::chrono::seconds(20)));
  int accepted = 0;
  for (const auto& r : receiver_.requests()) {
    EXPECT_EQ(r.idempotency_key, "21-1-hook");
    accepted += r.answered == 200;
  }
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(DeliveredBy(db_).at("21-1-hook"), "dispatch-b");
  EXPECT_GE(b.outbox->WithState("delivered").value()[0].attempts, 3u) << "A's attempts count";
}

// Both instances alive and delivering from one outbox at once: every notification reaches the
// receiver exactly once, and the instances' own counts add up to the total.
TEST_F(OutboxInstancesTest, TwoLiveInstancesNeverDeliverOneNotificationTwice) {
  Instance a(db_, "dispatch-a", options_, milliseconds(60'000));
  Instance b(db_, "dispatch-b", options_, milliseconds(60'000));
  ASSERT_TRUE(a.outbox && b.outbox);
  constexpr int kCount = 60;
  for (int i = 0; i < kCount; ++i) {
    Instance& queuer = i % 2 == 0 ? a : b;
    ASSERT_TRUE(
        queuer.outbox->Enqueue(Make(std::to_string(i) + "-1-hook"), SystemClock().Now()).value());
  }
  a.worker->Start();
  b.worker->Start();
  ASSERT_TRUE(
      WaitFor([&] { return a.outbox->CountState("delivered").value_or(0) == uint64_t{kCount}; },
              std::chrono::seconds(30)));
  const std::map<std::string, int> by_key = ByKey();
  EXPECT_EQ(by_key.size(), static_cast<size_t>(kCount));
  for (const auto& [key, n] : by_key) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(receiver_.requests().size(), static_cast<size_t>(kCount));
  EXPECT_EQ(a.delivered() + b.delivered(), uint64_t{kCount});
  std::map<std::string, int> per_instance;
  for (const auto& [key, by] : DeliveredBy(db_)) ++per_instance[by];
  EXPECT_EQ(per_instance["dispatch-a"], static_cast<int>(a.delivered()));
  EXPECT_EQ(per_instance["dispatch-b"], static_cast<int>(b.delivered()));
}

// Giving up is counted by the instance that gave up, and the row keeps the last error for
// every instance to see.
TEST_F(OutboxInstancesTest, AFailedDeliveryIsCountedByTheInstanceThatGaveUp) {
  receiver_.set_status(500);
  options_.max_attempts = 2;
  Instance a(db_, "dispatch-a", options_, milliseconds(60'000));
  Instance b(db_, "dispatch-b", options_, milliseconds(60'000));
  ASSERT_TRUE(a.outbox && b.outbox);
  ASSERT_TRUE(a.outbox->Enqueue(Make("31-1-hook"), SystemClock().Now()).value());
  a.worker->Start();
  b.worker->Start();
  ASSERT_TRUE(WaitFor([&] { return b.outbox->CountState("failed").value_or(0) == 1; }));
  a.worker->Stop();
  b.worker->Stop();
  const NotifyMetrics::PerChannel* ma = a.metrics.For("webhook");
  const NotifyMetrics::PerChannel* mb = b.metrics.For("webhook");
  EXPECT_EQ(ma->failed->value() + mb->failed->value(), 1u) << "given up once, by one instance";
  EXPECT_EQ(ma->retries->value() + mb->retries->value(), 1u) << "max_attempts = 2";
  EXPECT_EQ(receiver_.requests().size(), 2u);
  auto failed = a.outbox->WithState("failed").value();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].attempts, 2u);
  EXPECT_EQ(failed[0].last_error, "HTTP 500");
}

}  // namespace
}  // namespace cit::dispatch::test
