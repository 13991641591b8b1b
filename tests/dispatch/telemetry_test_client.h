// Test helpers for the telemetry ingest: demo certificates made by deploy/make-certs.sh, a
// synchronous Telemetry.Stream client playing the agent, and record builders.
//
//   static TestCerts* certs = TestCerts::Make({"CIT-1", "CIT-2"});  // once per suite
//   TelemetryTestClient agent(certs->Channel(port, "CIT-1"));
//   cit::v1::Welcome w = agent.Hello("CIT-1", 1);
//   agent.Send(Fixes("CIT-1", 1, 10));
//   EXPECT_TRUE(agent.WaitAck(10));
//
// Thread contract: one client per thread.
#ifndef CIT_TESTS_DISPATCH_TELEMETRY_TEST_CLIENT_H_
#define CIT_TESTS_DISPATCH_TELEMETRY_TEST_CLIENT_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cit/v1/telemetry.grpc.pb.h"
#include "tests/support/test_env.h"

namespace cit::test {

class TestCerts {
 public:
  // Runs deploy/make-certs.sh into a temp dir: vehicles, plus "EXPIRED-1" (expired) and
  // "FOREIGN-1" (signed by an unrelated CA).
  explicit TestCerts(const std::vector<std::string>& vehicles) {
    std::string cmd = "bash " + SourcePath("deploy/make-certs.sh").string() +
                      " --expired EXPIRED-1 --foreign FOREIGN-1 " + dir_.path().string();
    for (const auto& v : vehicles) cmd += " " + v;
    cmd += " >/dev/null";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "make-certs.sh failed: " << cmd;
  }
  std::filesystem::path File(const std::string& name) const { return dir_ / name; }
  // The dispatch-server's TLS flags for these certificates (the fleet CA, its own pair).
  std::vector<std::string> ServerTlsArgs() const {
    return {"--tls-ca",  File("ca.crt").string(),    "--tls-cert", File("server.crt").string(),
            "--tls-key", File("server.key").string()};
  }
  std::string Read(const std::string& name) const { return ReadFile(dir_ / name); }

  // mTLS channel to 127.0.0.1:port presenting `client`'s certificate ("" = no certificate).
  std::shared_ptr<grpc::Channel> Channel(int port, const std::string& client) const {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = Read("ca.crt");
    if (!client.empty()) {
      o.pem_private_key = Read(client + ".key");
      o.pem_cert_chain = Read(client + ".crt");
    }
    return grpc::CreateChannel("localhost:" + std::to_string(port), grpc::SslCredentials(o));
  }

 private:
  TempDir dir_;
};

inline cit::v1::Record MakeFix(uint64_t seq, double lat = 47.37, double lon = 8.54) {
  cit::v1::Record r;
  r.set_seq(seq);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  r.mutable_event_time()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(now).count());
  r.set_agent_monotonic_ns(static_cast<int64_t>(seq) * 1'000'000'000);
  *r.mutable_agent_time() = r.event_time();
  r.mutable_fix()->set_lat_deg(lat);
  r.mutable_fix()->set_lon_deg(lon);
  r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
  r.mutable_fix()->set_speed_mps(12.0);
  return r;
}

inline cit::v1::RecordBatch Fixes(uint64_t first, uint64_t last) {
  cit::v1::RecordBatch b;
  for (uint64_t s = first; s <= last; ++s) *b.add_records() = MakeFix(s);
  return b;
}

// A synchronous agent: Hello, batches, and reading acks / rejects until a watermark.
class TelemetryTestClient {
 public:
  explicit TelemetryTestClient(std::shared_ptr<grpc::Channel> channel)
      : stub_(cit::v1::Telemetry::NewStub(channel)) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    rw_ = stub_->Stream(&ctx_);
  }
  ~TelemetryTestClient() {
    if (!finished_) {
      ctx_.TryCancel();
      rw_->Finish();
    }
  }

  // Sends Hello; returns the Welcome's highest_stored_seq, or -1 if the stream ended instead.
  int64_t Hello(const std::string& vehicle, uint64_t first_unacked = 0) {
    cit::v1::AgentMessage m;
    m.mutable_hello()->set_vehicle_id(vehicle);
    m.mutable_hello()->set_first_unacked_seq(first_unacked);
    m.mutable_hello()->set_agent_version("telemetry_test_client");
    if (!rw_->Write(m)) return -1;
    cit::v1::ServerMessage reply;
    if (!rw_->Read(&reply) || !reply.has_welcome()) return -1;
    welcome_ = reply.welcome();
    return static_cast<int64_t>(reply.welcome().highest_stored_seq());
  }

  bool Send(const cit::v1::RecordBatch& batch) {
    cit::v1::AgentMessage m;
    *m.mutable_batch() = batch;
    return rw_->Write(m);
  }
  // AgentMessage.urgent: early copies sent ahead of the backlog.
  bool SendUrgent(const cit::v1::RecordBatch& batch) {
    cit::v1::AgentMessage m;
    *m.mutable_urgent() = batch;
    return rw_->Write(m);
  }

  // Reads until an Ack covers `seq`; collects rejects. False if the stream ended first.
  bool WaitAck(uint64_t seq) {
    while (acked_ < seq) {
      cit::v1::ServerMessage reply;
      if (!rw_->Read(&reply)) return false;
      if (reply.has_ack()) {
        acks_.push_back(reply.ack().through_seq());
        acked_ = std::max(acked_, reply.ack().through_seq());
      }
      if (reply.has_rejected()) rejects_.push_back(reply.rejected());
    }
    return true;
  }

  // Half-closes and returns the final status (reading any remaining messages).
  grpc::Status Close() {
    rw_->WritesDone();
    return Drain();
  }
  // Reads until the server ends the stream; returns its status.
  grpc::Status Drain() {
    cit::v1::ServerMessage reply;
    while (rw_->Read(&reply)) {
      if (reply.has_ack()) acked_ = std::max(acked_, reply.ack().through_seq());
      if (reply.has_rejected()) rejects_.push_back(reply.rejected());
    }
    finished_ = true;
    return rw_->Finish();
  }

  uint64_t acked() const { return acked_; }
  const std::vector<uint64_t>& acks() const { return acks_; }
  const std::vector<cit::v1::RecordRejected>& rejects() const { return rejects_; }
  const cit::v1::Welcome& welcome() const { return welcome_; }

 private:
  std::unique_ptr<cit::v1::Telemetry::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<cit::v1::AgentMessage, cit::v1::ServerMessage>> rw_;
  cit::v1::Welcome welcome_;
  uint64_t acked_ = 0;
  std::vector<uint64_t> acks_;
  std::vector<cit::v1::RecordRejected> rejects_;
  bool finished_ = false;
};

}  // namespace cit::test

#endif  // CIT_TESTS_DISPATCH_TELEMETRY_TEST_CLIENT_H_
