// The metrics port (prometheus-cpp's exposer): names and escaping of the text format, /healthz,
// and that no client can hold connections open without limit (issue 10 §2, §4.3).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "dispatch-server/metrics/http_server.h"
#include "dispatch-server/metrics/metrics_registry.h"

namespace cit::dispatch {
namespace {

using namespace std::chrono_literals;

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the peer closes; false if it is still open after `limit`.
bool ReadToClose(int fd, std::chrono::milliseconds limit, std::string* out = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;  // closed (0) or reset by the server
    if (out != nullptr) out->append(buf, static_cast<size_t>(n));
  }
}

// One complete GET; the whole response, or "" when none came within 30 s.
std::string Get(int port, const std::string& path) {
  int fd = Connect(port);
  if (fd < 0) return "";
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string out;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()) ||
      !ReadToClose(fd, 30s, &out)) {
    out.clear();
  }
  ::close(fd);
  return out;
}

TEST(MetricsRegistryTest, KeepsNamesAndLabelsAndEscapesHelpText) {
  MetricsRegistry m;
  m.GetCounter("cit_ingest_records_stored_total", "Records stored").Increment(3);
  m.GetCounter("cit_ingest_rejected_total", "Rejected records, by reason",
               {{"reason", "NON_FINITE"}})
      .Increment();
  m.GetGauge("cit_test_gauge", "A help text with a back\\slash and a\nnewline").Set(2.5);
  m.GetHistogram("cit_ingest_commit_seconds", "Commit time", {0.001, 0.01}).Observe(0.005);
  int connected = 7;
  m.AddCallbackGauge("cit_connected_vehicles", "Vehicles", [&] { return connected; });
  const std::string text = m.Render();
  EXPECT_NE(text.find("cit_ingest_records_stored_total 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cit_ingest_rejected_total{reason=\"NON_FINITE\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# HELP cit_test_gauge A help text with a back\\\\slash and a\\nnewline\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE cit_ingest_commit_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("cit_ingest_commit_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("cit_ingest_commit_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("cit_connected_vehicles 7\n"), std::string::npos);
  connected = 8;
  EXPECT_NE(m.Render().find("cit_connected_vehicles 8\n"), std::string::npos);
  // The same name and labels give the same series.
  EXPECT_EQ(m.GetCounter("cit_ingest_records_stored_total", "").value(), 3u);
  Histogram& h = m.GetHistogram("cit_ingest_commit_seconds", "", {});
  EXPECT_EQ(h.bucket(0), 0u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.count(), 1u);
}

class MetricsHttpTest : public ::testing::Test {
 protected:
  void StartServer(MetricsHttpOptions options) {
    registry_->GetCounter("cit_ingest_records_stored_total", "Records stored").Increment(3);
    http_ = std::make_unique<MetricsHttpServer>(registry_, options);
    ASSERT_TRUE(http_->Start("127.0.0.1:0").ok());
    ASSERT_GT(http_->port(), 0);
  }
  std::shared_ptr<MetricsRegistry> registry_ = std::make_shared<MetricsRegistry>();
  std::unique_ptr<MetricsHttpServer> http_;
};

TEST_F(MetricsHttpTest, ServesMetricsAndHealth) {
  StartServer({});
  std::string r = Get(http_->port(), "/metrics");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("cit_ingest_records_stored_total 3"), std::string::npos) << r;
  r = Get(http_->port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("\r\n\r\nok\n"), std::string::npos) << r;
  EXPECT_EQ(Get(http_->port(), "/nothing").rfind("HTTP/1.1 404", 0), 0u);

  http_->SetHealthCheck([] { return absl::UnavailableError("telemetry port not accepting"); });
  r = Get(http_->port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find("telemetry port not accepting"), std::string::npos) << r;
  http_->SetHealthCheck([] { return absl::OkStatus(); });
  http_->SetHealthy(false);
  r = Get(http_->port(), "/healthz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find("draining"), std::string::npos) << r;
}

TEST_F(MetricsHttpTest, RefusesABadAddress) {
  MetricsHttpServer http(registry_);
  EXPECT_FALSE(http.Start("no-port").ok());
}

// 200 half-sent requests and 200 idle connections (slow loris): each is dropped after the
// request timeout, never held open, and /metrics answers once they are gone.
TEST_F(MetricsHttpTest, DropsSlowAndIdleClients) {
  StartServer({.threads = 8, .queue = 16, .request_timeout = 200ms});
  std::vector<int> fds;
  for (int i = 0; i < 400; ++i) {
    int fd = Connect(http_->port());
    ASSERT_GE(fd, 0) << "connection " << i;
    if (i % 2 == 0) {
      const std::string partial = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // no blank line
      ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(partial.size()));
    }
    fds.push_back(fd);
  }
  // 400 connections / 8 workers x 0.2 s is about 10 s; the limit only guards against a hang.
  for (size_t i = 0; i < fds.size(); ++i) {
    EXPECT_TRUE(ReadToClose(fds[i], 120s)) << "connection " << i << " still open";
    ::close(fds[i]);
  }
  const std::string r = Get(http_->port(), "/metrics");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
}

}  // namespace
}  // namespace cit::dispatch
