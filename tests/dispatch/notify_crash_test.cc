// The built dispatch-server with an escalation policy and a webhook target, SIGKILLed while a
// notification is pending (its receiver answers 503): after the restart the pending one is
// delivered, the one delivered before the kill is not sent again, and every request of one
// notification carries the same idempotency key. The escalation step itself is not repeated.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "dispatch-server/store/sqlite_db.h"
#include "tests/dispatch/notify_receivers.h"
#include "tests/dispatch/telemetry_test_client.h"

namespace cit::dispatch {
namespace {

class Server {
 public:
  Server(const test::TestCerts& certs, const test::TempDir& dir, int port, const char* log)
      : process_({test::BuiltProgram("dispatch-server/dispatch-server").string(), "--config",
                  (dir / "server.toml").string(), "--telemetry-listen",
                  "127.0.0.1:" + std::to_string(port), "--operator-listen",
                  "127.0.0.1:" + std::to_string(test::FreeTcpPort()), "--metrics-listen", "",
                  "--http-listen", "", "--tls-ca", certs.File("ca.crt").string(), "--tls-cert",
                  certs.File("server.crt").string(), "--tls-key", certs.File("server.key").string(),
                  "--database", (dir / "dispatch.db").string()},
                 dir / log) {}
  test::Process& process() { return process_; }

 private:
  test::Process process_;
};

cit::v1::Record Panic(uint64_t seq, const std::string& source) {
  cit::v1::Record r = test::MakeFix(seq);
  r.mutable_panic()->set_source(source);
  return r;
}

// Notifications by state, read from the server's database beside the running server.
std::map<std::string, int64_t> States(const std::filesystem::path& db_path) {
  std::map<std::string, int64_t> out;
  sqlite::OpenOptions o;
  o.read_only = true;
  auto db = sqlite::Database::Open(db_path, o);
  if (!db.ok()) return out;
  auto q = (*db)->Prepare("SELECT state, count(*) FROM notifications GROUP BY state");
  if (!q.ok()) return out;
  while (true) {
    auto row = q->Step();
    if (!row.ok() || !*row) break;
    out[q->ColumnText(0)] = q->ColumnInt64(1);
  }
  return out;
}

int Count(const std::vector<test::HttpReceiver::Request>& requests, const std::string& key,
          int answered) {
  int n = 0;
  for (const auto& r : requests) n += r.idempotency_key == key && r.answered == answered;
  return n;
}

TEST(NotifyCrashTest, SigkillWithANotificationPendingLosesNothingAndResendsNothingDelivered) {
  test::TestCerts certs({"CIT-1"});
  test::TempDir dir;
  test::HttpReceiver receiver;
  std::ofstream(dir / "hook.secret") << "secret\n";
  std::ofstream(dir / "server.toml") << "[notify]\n"
                                        "tick_ms = 20\n"
                                        "retry_base_ms = 20\n"
                                        "retry_max_ms = 100\n"
                                        "[[notify.targets]]\n"
                                        "name = \"control-room\"\n"
                                        "channel = \"webhook\"\n"
                                        "url = \"http://127.0.0.1:"
                                     << receiver.port()
                                     << "/alerts\"\n"
                                        "secret_file = \"hook.secret\"\n"
                                        "[[escalation]]\n"
                                        "kinds = [\"PANIC\"]\n"
                                        "[[escalation.steps]]\n"
                                        "after_s = 0\n"
                                        "notify = [\"control-room\"]\n";
  const int port = test::FreeTcpPort();
  std::string first_key, second_key;
  {
    Server server(certs, dir, port, "server1.log");
    auto channel = certs.Channel(port, "CIT-1");
    ASSERT_TRUE(
        channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(15)))
        << test::ReadFile(dir / "server1.log");
    test::TelemetryTestClient agent(channel);
    ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
    cit::v1::RecordBatch batch;
    *batch.add_records() = test::MakeFix(1);
    *batch.add_records() = Panic(2, "front");
    ASSERT_TRUE(agent.Send(batch));
    ASSERT_TRUE(agent.WaitAck(2));
    // Delivered (and marked so) before the kill.
    ASSERT_TRUE(receiver.WaitRequests(1)) << test::ReadFile(dir / "server1.log");
    first_key = receiver.requests()[0].idempotency_key;
    ASSERT_TRUE(test::WaitFor([&] { return States(dir / "dispatch.db")["delivered"] == 1; }))
        << test::ReadFile(dir / "server1.log");
    // The receiver goes down (503): the next notification stays pending.
    receiver.set_status(503);
    cit::v1::RecordBatch second;
    *second.add_records() = Panic(3, "rear");
    ASSERT_TRUE(agent.Send(second));
    ASSERT_TRUE(agent.WaitAck(3));
    ASSERT_TRUE(receiver.WaitRequests(2)) << test::ReadFile(dir / "server1.log");
    second_key = receiver.requests()[1].idempotency_key;
    ASSERT_NE(first_key, second_key);
    server.process().Kill();
  }
  EXPECT_EQ(States(dir / "dispatch.db")["pending"], 1);
  receiver.set_status(200);
  const size_t requests_before = receiver.requests().size();
  Server server(certs, dir, port, "server2.log");
  ASSERT_TRUE(test::WaitFor([&] { return States(dir / "dispatch.db")["delivered"] == 2; },
                            std::chrono::seconds(30)))
      << test::ReadFile(dir / "server2.log");
  const auto requests = receiver.requests();
  EXPECT_EQ(Count(requests, first_key, 200), 1) << "delivered before the kill: not sent again";
  EXPECT_EQ(Count(requests, second_key, 200), 1);
  EXPECT_GE(Count(requests, second_key, 503), 1);
  for (size_t i = requests_before; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].idempotency_key, second_key);
  }
  EXPECT_EQ(States(dir / "dispatch.db")["pending"], 0);
  // The escalation step ran once per alert, across the restart.
  sqlite::OpenOptions o;
  o.read_only = true;
  auto db = sqlite::Database::Open(dir / "dispatch.db", o);
  ASSERT_TRUE(db.ok());
  auto q = (*db)->Prepare("SELECT count(*) FROM notifications");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnInt64(0), 2);
}

}  // namespace
}  // namespace cit::dispatch
