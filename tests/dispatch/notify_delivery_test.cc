// Delivery through the real channels to receivers started by the test on loopback: the webhook
// (HMAC-SHA256 signature recomputed here, idempotency key), retries after the receiver was
// down or answered 503, giving up after max_attempts, the exec hook (stdin, exit status,
// timeout) and e-mail to a local SMTP sink, in clear and with STARTTLS. Waits on the receivers'
// condition variables and on the outbox state, never on fixed sleeps.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "dispatch-server/notify/delivery_worker.h"
#include "dispatch-server/notify/exec_channel.h"
#include "dispatch-server/notify/notifier.h"
#include "dispatch-server/notify/payload.h"
#include "dispatch-server/notify/sqlite_outbox.h"
#include "tests/dispatch/notify_receivers.h"
#include "tests/dispatch/telemetry_test_client.h"

namespace cit::dispatch {
namespace {

constexpr char kSecret[] = "s3cret-for-the-test";

std::string Hmac(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return "sha256=" + absl::BytesToHexString(std::string(reinterpret_cast<char*>(mac), len));
}

class NotifyDeliveryTest : public ::testing::Test {
 protected:
  NotifyDeliveryTest() {
    std::ofstream(dir_ / "hook.secret") << kSecret << "\n";
    options_.retry_base = std::chrono::milliseconds(20);
    options_.retry_max = std::chrono::milliseconds(200);
    options_.max_attempts = 50;
  }
  void AddWebhook(int port) {
    NotifyTarget t;
    t.name = "hook";
    t.channel = ChannelKind::kWebhook;
    t.url = "http://127.0.0.1:" + std::to_string(port) + "/citwatch";
    t.secret_file = dir_ / "hook.secret";
    t.timeout = std::chrono::milliseconds(5000);
    options_.targets.push_back(t);
  }
  void Start() {
    auto box = SqliteOutbox::Open(dir_ / "dispatch.db", 100);
    ASSERT_TRUE(box.ok()) << box.status();
    outbox_ = *std::move(box);
    std::map<std::string, std::unique_ptr<Channel>> channels;
    for (const NotifyTarget& t : options_.targets) {
      auto c = MakeChannel(t);
      ASSERT_TRUE(c.ok()) << c.status();
      channels.emplace(t.name, *std::move(c));
    }
    worker_ =
        std::make_unique<DeliveryWorker>(outbox_.get(), std::move(channels), options_, &metrics_);
    worker_->Start();
  }
  Notification Enqueue(const std::string& target, const std::string& channel,
                       const std::string& key) {
    cit::v1::AlertEvent e;
    e.set_event_id(7);
    e.set_type(cit::v1::ALERT_EVENT_TYPE_ESCALATED);
    e.mutable_alert()->set_alert_id(3);
    e.mutable_alert()->set_vehicle_id("CIT-1");
    e.mutable_alert()->set_kind(cit::v1::ALERT_KIND_PANIC);
    e.mutable_alert()->set_severity(cit::v1::SEVERITY_CRITICAL);
    Notification n;
    n.key = key;
    n.target = target;
    n.channel = channel;
    n.body = BuildPayload(e, 1, target, key);
    auto stored = outbox_->Enqueue(n, SystemClock().Now());
    EXPECT_TRUE(stored.ok() && *stored) << stored.status();
    worker_->Wake();
    return n;
  }
  bool WaitState(const std::string& state, uint64_t n) {
    return test::WaitFor([&] {
      auto c = outbox_->CountState(state);
      return c.ok() && *c == n;
    });
  }
  uint32_t Attempts(const std::string& state) {
    auto rows = outbox_->WithState(state);
    return rows.ok() && !rows->empty() ? rows->front().attempts : 0;
  }

  test::TempDir dir_;
  NotifyOptions options_;
  NotifyMetrics metrics_{std::make_shared<MetricsRegistry>()};
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<DeliveryWorker> worker_;
};

TEST_F(NotifyDeliveryTest, WebhookIsSignedAndCarriesTheIdempotencyKey) {
  test::HttpReceiver receiver;
  AddWebhook(receiver.port());
  Start();
  const Notification n = Enqueue("hook", "webhook", "citwatch-alert-3-step-1-hook");
  ASSERT_TRUE(receiver.WaitRequests(1));
  const test::HttpReceiver::Request r = receiver.requests()[0];
  EXPECT_EQ(r.body, n.body);
  EXPECT_EQ(r.signature, Hmac(kSecret, r.body));
  EXPECT_NE(r.signature, Hmac("another secret", r.body));
  EXPECT_EQ(r.idempotency_key, "citwatch-alert-3-step-1-hook");
  nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["alert"]["vehicle_id"], "CIT-1");
  EXPECT_EQ(body["event"]["event_id"], "7");
  EXPECT_EQ(body["idempotency_key"], r.idempotency_key);
  ASSERT_TRUE(WaitState("delivered", 1));
  EXPECT_EQ(receiver.requests().size(), 1u);
}

TEST_F(NotifyDeliveryTest, RetriesUntilTheReceiverIsUpWithTheSameKey) {
  const int port = test::FreeTcpPort();
  AddWebhook(port);
  Start();
  Enqueue("hook", "webhook", "k-down");
  // Nobody listens: the attempts fail and are scheduled again.
  ASSERT_TRUE(test::WaitFor([&] { return Attempts("pending") >= 2; }));
  test::HttpReceiver receiver(port);
  receiver.set_status(503);  // up, but not yet accepting
  ASSERT_TRUE(receiver.WaitRequests(2));
  receiver.set_status(200);
  ASSERT_TRUE(WaitState("delivered", 1));
  const auto requests = receiver.requests();
  ASSERT_GE(requests.size(), 3u);
  for (const auto& r : requests) EXPECT_EQ(r.idempotency_key, "k-down");  // one key throughout
  EXPECT_EQ(requests.front().body, requests.back().body);
  const NotifyMetrics::PerChannel* m = metrics_.For("webhook");
  EXPECT_EQ(m->delivered->value(), 1u);
  EXPECT_EQ(m->retries->value(), uint64_t{Attempts("delivered")} - 1);
  EXPECT_GE(m->retries->value(), 4u);  // two refused connections, two 503s
  EXPECT_EQ(m->failed->value(), 0u);
}

TEST_F(NotifyDeliveryTest, GivesUpAfterMaxAttemptsAndKeepsTheError) {
  options_.max_attempts = 3;
  test::HttpReceiver receiver;
  receiver.set_status(500);
  AddWebhook(receiver.port());
  Start();
  Enqueue("hook", "webhook", "k-fail");
  ASSERT_TRUE(WaitState("failed", 1));
  auto failed = outbox_->WithState("failed");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->front().attempts, 3u);
  EXPECT_EQ(failed->front().last_error, "HTTP 500");
  EXPECT_EQ(receiver.requests().size(), 3u);
  EXPECT_EQ(metrics_.For("webhook")->failed->value(), 1u);
  EXPECT_EQ(metrics_.For("webhook")->retries->value(), 2u);
}

TEST_F(NotifyDeliveryTest, ExecHookGetsThePayloadOnStdinAndItsExitStatusDecides) {
  const std::filesystem::path hook = dir_ / "hook.sh";
  std::ofstream(hook) << "#!/bin/sh\n"
                         "# fails until the flag file exists, then records stdin and the key\n"
                         "[ -e \"$1.ok\" ] || { touch \"$1.tried\"; exit 3; }\n"
                         "cat > \"$1\"\n"
                         "printf '%s' \"$CITWATCH_IDEMPOTENCY_KEY\" > \"$1.key\"\n";
  std::filesystem::permissions(hook, std::filesystem::perms::owner_all);
  const std::filesystem::path out = dir_ / "got";
  NotifyTarget t;
  t.name = "sms";
  t.channel = ChannelKind::kExec;
  t.argv = {hook.string(), out.string()};  // run directly: no shell parses the config
  t.timeout = std::chrono::milliseconds(5000);
  options_.targets.push_back(t);
  Start();
  const Notification n = Enqueue("sms", "exec", "k-exec");
  ASSERT_TRUE(test::WaitFor([&] { return Attempts("pending") >= 1; }));
  EXPECT_TRUE(std::filesystem::exists(out.string() + ".tried"));
  EXPECT_EQ(outbox_->WithState("pending")->front().last_error, "exit status 3");
  std::ofstream(out.string() + ".ok") << "";
  ASSERT_TRUE(WaitState("delivered", 1));
  EXPECT_EQ(test::ReadFile(out), n.body);
  EXPECT_EQ(test::ReadFile(out.string() + ".key"), "k-exec");
}

// A hook that exits without reading its input: writing the rest of the payload fails with
// EPIPE. It used to raise SIGPIPE, which ended the whole server (a CI run lost its server this
// way under load). 1 MiB is more than a pipe holds, so the write always meets the closed end.
TEST_F(NotifyDeliveryTest, ExecHookThatDoesNotReadItsInputDoesNotKillTheServer) {
  ExecChannel hook({"/bin/true"}, std::chrono::milliseconds(5000));
  Notification n;
  n.key = "k-true";
  n.body = std::string(1 << 20, 'x');
  for (int i = 0; i < 3; ++i) {
    const DeliveryResult r = hook.Deliver(n);
    EXPECT_TRUE(r.delivered) << r.detail;
  }
}

TEST_F(NotifyDeliveryTest, ExecHookPastItsTimeoutIsKilled) {
  NotifyTarget t;
  t.name = "slow";
  t.channel = ChannelKind::kExec;
  t.argv = {"/bin/sleep", "30"};
  t.timeout = std::chrono::milliseconds(200);
  options_.targets.push_back(t);
  options_.max_attempts = 1;
  Start();
  Enqueue("slow", "exec", "k-slow");
  ASSERT_TRUE(WaitState("failed", 1));
  EXPECT_EQ(outbox_->WithState("failed")->front().last_error,
            "/bin/sleep ran longer than 200 ms and was killed");
}

class NotifyEmailTest : public NotifyDeliveryTest {
 protected:
  void AddEmail(int port, bool starttls) {
    NotifyTarget t;
    t.name = "duty-mail";
    t.channel = ChannelKind::kEmail;
    t.url = "smtp://127.0.0.1:" + std::to_string(port);
    t.starttls = starttls;
    t.ca_file = certs_.File("ca.crt");
    t.from = "citwatch@example.org";
    t.to = {"duty@example.org", "chief@example.org"};
    t.timeout = std::chrono::milliseconds(10'000);
    options_.targets.push_back(t);
  }
  test::TestCerts certs_{{}};
};

TEST_F(NotifyEmailTest, PlainSmtpDeliversOneMessageToEveryRecipient) {
  test::SmtpSink sink(nullptr);
  AddEmail(sink.port(), /*starttls=*/false);
  Start();
  const Notification n = Enqueue("duty-mail", "email", "citwatch-alert-3-step-1-duty-mail");
  ASSERT_TRUE(sink.WaitMessages(1));
  const test::SmtpSink::Message m = sink.messages()[0];
  EXPECT_FALSE(m.tls);
  EXPECT_EQ(m.from, "MAIL FROM:<citwatch@example.org>");
  EXPECT_EQ(m.to.size(), 2u);
  EXPECT_TRUE(absl::StrContains(m.data, "Subject: citwatch: CRITICAL PANIC CIT-1 (alert 3)"));
  EXPECT_TRUE(
      absl::StrContains(m.data, "Message-ID: <citwatch-alert-3-step-1-duty-mail@citwatch>"));
  EXPECT_TRUE(absl::StrContains(m.data,
                                "X-Citwatch-Idempotency-Key: "
                                "citwatch-alert-3-step-1-duty-mail"));
  EXPECT_TRUE(absl::StrContains(m.data, n.body));
  ASSERT_TRUE(WaitState("delivered", 1));
}

TEST_F(NotifyEmailTest, StartTlsUpgradesBeforeTheMessageIsSent) {
  boost::asio::ssl::context tls(boost::asio::ssl::context::tls_server);
  tls.use_certificate_chain_file(certs_.File("server.crt").string());
  tls.use_private_key_file(certs_.File("server.key").string(), boost::asio::ssl::context::pem);
  test::SmtpSink sink(&tls);
  AddEmail(sink.port(), /*starttls=*/true);
  Start();
  Enqueue("duty-mail", "email", "k-tls");
  ASSERT_TRUE(sink.WaitMessages(1));
  EXPECT_TRUE(sink.messages()[0].tls);
  EXPECT_TRUE(absl::StrContains(sink.messages()[0].data, "X-Citwatch-Idempotency-Key: k-tls"));
  ASSERT_TRUE(WaitState("delivered", 1));
}

TEST_F(NotifyEmailTest, RequiredStartTlsIsNeverSkipped) {
  test::SmtpSink sink(nullptr);  // offers no STARTTLS
  AddEmail(sink.port(), /*starttls=*/true);
  options_.max_attempts = 2;
  Start();
  Enqueue("duty-mail", "email", "k-clear");
  ASSERT_TRUE(WaitState("failed", 1));
  EXPECT_TRUE(sink.messages().empty());
  EXPECT_GE(sink.sessions(), 2);
}

}  // namespace
}  // namespace cit::dispatch
