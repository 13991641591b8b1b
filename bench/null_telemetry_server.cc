// null_telemetry_server: the null-server ceiling of ingest (issue 16 §5). It speaks the Telemetry
// protocol over mTLS exactly like dispatch-server's telemetry port, but stores nothing,
// checks nothing and acknowledges every batch as soon as it is read. fleet_load against it
// measures what the load generator, gRPC, TLS and the loopback carry on this machine with no
// server-side work: the ceiling the real server's figure is stated against (docs/benchmarks.md).
//
//   deploy/make-certs.sh /tmp/fleet                      # CA + server certificate
//   null_telemetry_server --certs /tmp/fleet --listen 127.0.0.1:7543 &
//   fleet_load --certs /tmp/fleet --target localhost:7543 --vehicles 1000 --duration-s 20
//
// It prints the records it acknowledged and its own CPU time per record when stopped (SIGINT or
// SIGTERM), so the server-side CPU of the real server can be compared per record too.
//
// Threads: gRPC's callback threads run every stream's reactor; main waits for a signal.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "cit/v1/telemetry.grpc.pb.h"

namespace {

std::atomic<uint64_t> g_records{0};
std::atomic<uint64_t> g_streams{0};

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One vehicle's stream: Welcome for Hello, an Ack through the last seq for each batch. At most
// one write is in flight (gRPC's rule); acks that come due meanwhile are merged into the next.
class NullStream final
    : public grpc::ServerBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage> {
 public:
  NullStream() {
    g_streams.fetch_add(1);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard lock(mu_);
      reading_ = false;
      MaybeFinish();
      return;
    }
    bool read_again = false;
    {
      std::lock_guard lock(mu_);
      if (in_.has_hello()) {
        welcome_due_ = true;
      } else if (in_.has_batch() && in_.batch().records_size() > 0) {
        g_records.fetch_add(static_cast<uint64_t>(in_.batch().records_size()));
        ack_through_ = std::max(ack_through_, in_.batch().records().rbegin()->seq());
      }
      MaybeWrite();
      read_again = !finished_;
    }
    if (read_again) StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      reading_ = false;  // the client is gone; the pending read ends too
    } else {
      MaybeWrite();
    }
    MaybeFinish();
  }

  void OnDone() override { delete this; }

 private:
  // Called with mu_ held.
  void MaybeWrite() {
    if (writing_) return;
    if (welcome_due_) {
      welcome_due_ = false;
      out_.Clear();
      out_.mutable_welcome()->set_max_batch_records(1000);
    } else if (ack_through_ > acked_) {
      acked_ = ack_through_;
      out_.Clear();
      out_.mutable_ack()->set_through_seq(acked_);
    } else {
      return;
    }
    writing_ = true;
    StartWrite(&out_);
  }

  // Called with mu_ held: finishes once the client has closed and no write is in flight.
  void MaybeFinish() {
    if (!reading_ && !writing_ && !finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  std::mutex mu_;
  cit::v1::AgentMessage in_;
  cit::v1::ServerMessage out_;
  bool reading_ = true;
  bool writing_ = false;
  bool finished_ = false;
  bool welcome_due_ = false;
  uint64_t ack_through_ = 0;
  uint64_t acked_ = 0;
};

class NullTelemetry final : public cit::v1::Telemetry::CallbackService {
  grpc::ServerBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage>* Stream(
      grpc::CallbackServerContext*) override {
    return new NullStream();
  }
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Telemetry server that acknowledges everything and stores nothing (ceiling bench)"};
  std::filesystem::path certs;
  std::string listen = "127.0.0.1:7543";
  app.add_option("--certs", certs, "directory with ca.crt, server.crt, server.key")->required();
  app.add_option("--listen", listen, "host:port to listen on");
  CLI11_PARSE(app, argc, argv);

  for (const char* f : {"ca.crt", "server.crt", "server.key"}) {
    if (!std::filesystem::exists(certs / f)) {
      std::fprintf(stderr,
                   "null_telemetry_server: %s missing (make it with deploy/make-certs.sh)\n",
                   (certs / f).c_str());
      return 2;
    }
  }
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = ReadFile(certs / "ca.crt");
  tls.pem_key_cert_pairs.push_back(
      {ReadFile(certs / "server.key"), ReadFile(certs / "server.crt")});

  // Blocked before gRPC starts its threads (they inherit the mask), so only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // As dispatch-server does (dispatch-server/server/lock_graph.h): Debian's abseil keeps its
  // lock-order graph on, which costs gRPC's threads a fifth of their CPU at thousands of streams.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  NullTelemetry service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::SslServerCredentials(tls));
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(16 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "null_telemetry_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("null_telemetry_server: listening on %s\n", listen.c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  const uint64_t records = g_records.load();
  const double cpu = CpuSeconds();
  std::printf(
      "null_telemetry_server: %llu streams, %llu records acknowledged, %.3f s CPU, %.2f us CPU per "
      "record\n",
      static_cast<unsigned long long>(g_streams.load()), static_cast<unsigned long long>(records),
      cpu, records > 0 ? cpu * 1e6 / static_cast<double>(records) : 0.0);
  return 0;
}
