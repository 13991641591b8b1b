// An in-process Telemetry server for the agent's uplink tests: real gRPC over loopback, the
// delivery contract of DESIGN §4 in memory (dedup by seq, Welcome = highest contiguous stored
// seq, Ack after "commit"). Storage outlives a server instance so tests can stop the server and
// start another on the same port (an outage). The real dispatch-server is used by the
// integration tests.
#ifndef CIT_TESTS_AGENT_TELEMETRY_TEST_SERVER_H_
#define CIT_TESTS_AGENT_TELEMETRY_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cit/v1/telemetry.grpc.pb.h"

namespace cit::agent::testing {

struct Storage {
  std::mutex mu;
  std::map<uint64_t, cit::v1::Record> stored;
  std::vector<uint64_t> arrival;  // seqs in the order they were first stored
  uint64_t duplicates = 0;
  uint64_t urgent_messages = 0;
  uint64_t batches = 0;
  size_t largest_batch = 0;
  uint64_t hellos = 0;
  uint64_t last_hello_first_unacked = 0;
  std::vector<std::string> peer_identities;  // from the TLS auth context, if any

  uint64_t Contiguous() const {
    uint64_t h = 0;
    for (auto it = stored.begin(); it != stored.end() && it->first == h + 1; ++it) h = it->first;
    return h;
  }
  size_t size() {
    std::lock_guard l(mu);
    return stored.size();
  }
};

class TestTelemetryService final : public cit::v1::Telemetry::CallbackService {
 public:
  TestTelemetryService(Storage& storage, bool accepts_urgent)
      : storage_(storage), accepts_urgent_(accepts_urgent) {}
  // While false, batches are stored but not acknowledged (a slow store).
  std::atomic<bool> ack_enabled{true};

  grpc::ServerBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage>* Stream(
      grpc::CallbackServerContext* ctx) override {
    return new Reactor(this, ctx);
  }

 private:
  class Reactor final
      : public grpc::ServerBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage> {
   public:
    Reactor(TestTelemetryService* svc, grpc::CallbackServerContext* ctx) : svc_(svc) {
      auto auth = ctx->auth_context();
      if (auth && auth->IsPeerAuthenticated()) {
        for (const auto& id : auth->GetPeerIdentity()) {
          std::lock_guard l(svc_->storage_.mu);
          svc_->storage_.peer_identities.emplace_back(id.data(), id.size());
        }
      }
      StartRead(&in_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        std::lock_guard l(mu_);
        finishing_ = true;
        if (!writing_) Finish(grpc::Status::OK);
        return;
      }
      Storage& st = svc_->storage_;
      cit::v1::ServerMessage reply;
      bool send = false;
      {
        std::lock_guard l(st.mu);
        if (in_.has_hello()) {
          ++st.hellos;
          st.last_hello_first_unacked = in_.hello().first_unacked_seq();
          reply.mutable_welcome()->set_highest_stored_seq(st.Contiguous());
          reply.mutable_welcome()->set_max_batch_records(1000);
          reply.mutable_welcome()->set_accepts_urgent(svc_->accepts_urgent_);
          send = true;
        } else if (in_.has_batch() || in_.has_urgent()) {
          const auto& b = in_.has_batch() ? in_.batch() : in_.urgent();
          if (in_.has_urgent())
            ++st.urgent_messages;
          else
            ++st.batches;
          st.largest_batch = std::max<size_t>(st.largest_batch, b.records_size());
          for (const auto& r : b.records()) {
            if (st.stored.count(r.seq())) {
              ++st.duplicates;
            } else {
              st.stored[r.seq()] = r;
              st.arrival.push_back(r.seq());
            }
          }
          if (in_.has_batch() && svc_->ack_enabled && b.records_size() > 0) {
            reply.mutable_ack()->set_through_seq(b.records(b.records_size() - 1).seq());
            send = true;
          }
        }
      }
      if (send) Send(std::move(reply));
      StartRead(&in_);
    }
    void OnWriteDone(bool ok) override {
      std::lock_guard l(mu_);
      writing_ = false;
      if (ok && !out_.empty()) {
        current_ = std::move(out_.front());
        out_.pop_front();
        writing_ = true;
        StartWrite(&current_);
      } else if (finishing_) {
        Finish(grpc::Status::OK);
      }
    }
    void OnDone() override { delete this; }

   private:
    void Send(cit::v1::ServerMessage m) {
      std::lock_guard l(mu_);
      if (writing_) {
        out_.push_back(std::move(m));
        return;
      }
      current_ = std::move(m);
      writing_ = true;
      StartWrite(&current_);
    }
    TestTelemetryService* svc_;
    cit::v1::AgentMessage in_;
    std::mutex mu_;
    cit::v1::ServerMessage current_;
    std::deque<cit::v1::ServerMessage> out_;
    bool writing_ = false;
    bool finishing_ = false;
  };

  Storage& storage_;
  bool accepts_urgent_;
};

// A server instance on 127.0.0.1:port (port 0 picks one).
class TestServer {
 public:
  TestServer(Storage& storage, int port, bool accepts_urgent = true,
             std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials())
      : service_(storage, accepts_urgent) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:" + std::to_string(port), creds, &port_);
    b.RegisterService(&service_);
    b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
    server_ = b.BuildAndStart();
  }
  ~TestServer() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  int port() const { return port_; }
  TestTelemetryService& service() { return service_; }

 private:
  TestTelemetryService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace cit::agent::testing

#endif  // CIT_TESTS_AGENT_TELEMETRY_TEST_SERVER_H_
