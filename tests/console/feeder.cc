// console_feeder: plays vehicles for the browser tests over the real telemetry port (mTLS,
// Telemetry.Stream). Reads one JSON command per line on stdin, answers one JSON line per
// command on stdout once the server has acknowledged (committed) the record, so a test waits
// on an event rather than a sleep.
//
//   console_feeder --server localhost:7443 --certs /tmp/pki
//   {"op":"fix","vehicle":"V1","lat":47.37,"lon":8.54,"speed":12,"track":90}
//   {"op":"panic","vehicle":"V1","source":"button"}
//   {"op":"door","vehicle":"V1","door":1,"state":"open"}      (or "closed")
//   {"op":"crew","vehicle":"V1","badge":"B-1","action":"in"}  (or "out")
//   {"op":"close","vehicle":"V1"}                              (ends the stream)
// Optional on every record: "t" (event time, Unix seconds; default now), "id" (echoed back).
// Answer: {"ok":true,"id":...,"vehicle":"V1","seq":7} or {"ok":false,"id":...,"error":"..."}.
// A stream broken by a server restart is reopened (Hello, Welcome) and the record resent, for
// up to --retry-s seconds.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cit/v1/telemetry.grpc.pb.h"
#include "tests/console/feeder_certs.h"

namespace {

using json = nlohmann::json;
using Stream = grpc::ClientReaderWriter<cit::v1::AgentMessage, cit::v1::ServerMessage>;

class Vehicle {
 public:
  Vehicle(std::string id, std::shared_ptr<grpc::Channel> channel)
      : id_(std::move(id)), stub_(cit::v1::Telemetry::NewStub(std::move(channel))) {}
  ~Vehicle() { Close(); }

  // Sends one record (seq filled in) and waits for the Ack covering it. "" on success.
  std::string Send(cit::v1::Record r, double retry_s, uint64_t* seq_out) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int>(retry_s * 1000));
    std::string err;
    do {
      if (!stream_ && !(err = Open()).empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      r.set_vehicle_id(id_);
      r.set_seq(next_seq_);
      r.set_agent_monotonic_ns(static_cast<int64_t>(next_seq_) * 1'000'000);
      r.set_agent_boot(1);
      cit::v1::AgentMessage m;
      *m.mutable_batch()->add_records() = r;
      if (stream_->Write(m) && (err = WaitAck(next_seq_)).empty()) {
        *seq_out = next_seq_++;
        return "";
      }
      if (err.empty()) err = "stream write failed";
      Reset();
    } while (std::chrono::steady_clock::now() < deadline);
    return err;
  }

  void Close() {
    if (!stream_) return;
    stream_->WritesDone();
    Reset();
  }

 private:
  std::string Open() {
    ctx_ = std::make_unique<grpc::ClientContext>();
    stream_ = stub_->Stream(ctx_.get());
    cit::v1::AgentMessage hello;
    hello.mutable_hello()->set_vehicle_id(id_);
    hello.mutable_hello()->set_agent_version("console_feeder");
    cit::v1::ServerMessage in;
    if (!stream_->Write(hello) || !stream_->Read(&in) || !in.has_welcome()) {
      Reset();
      return "no Welcome from the server";
    }
    next_seq_ = in.welcome().highest_stored_seq() + 1;
    return "";
  }

  std::string WaitAck(uint64_t seq) {
    cit::v1::ServerMessage in;
    while (stream_->Read(&in)) {
      if (in.has_ack() && in.ack().through_seq() >= seq) return "";
      if (in.has_rejected() && in.rejected().seq() == seq) {
        return "rejected: " + cit::v1::RejectReason_Name(in.rejected().reason()) + " " +
               in.rejected().detail();
      }
    }
    return "stream ended before the ack";
  }

  void Reset() {
    if (ctx_) ctx_->TryCancel();
    if (stream_) (void)stream_->Finish();
    stream_.reset();
    ctx_.reset();
  }

  std::string id_;
  std::unique_ptr<cit::v1::Telemetry::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<Stream> stream_;
  uint64_t next_seq_ = 1;
};

void SetTime(cit::v1::Record& r, const json& cmd) {
  double t = cmd.value("t", 0.0);
  if (t <= 0) {
    t = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  r.mutable_event_time()->set_seconds(static_cast<int64_t>(t));
  r.mutable_event_time()->set_nanos(
      static_cast<int32_t>((t - static_cast<double>(static_cast<int64_t>(t))) * 1e9));
}

// The record a command describes; "" error when it is well formed.
std::string BuildRecord(const json& cmd, const std::string& op, cit::v1::Record* r) {
  SetTime(*r, cmd);
  if (op == "fix") {
    auto* f = r->mutable_fix();
    f->set_lat_deg(cmd.at("lat").get<double>());
    f->set_lon_deg(cmd.at("lon").get<double>());
    f->set_mode(cit::v1::FIX_MODE_3D);
    f->set_speed_mps(cmd.value("speed", 0.0));
    if (cmd.contains("track")) f->set_track_deg(cmd.at("track").get<double>());
    f->set_satellites_used(9);
    f->set_hdop(0.9);
    f->set_eph_m(3.0);
    *f->mutable_receiver_time() = r->event_time();
  } else if (op == "panic") {
    r->mutable_panic()->set_source(cmd.value("source", "button"));
  } else if (op == "door") {
    r->mutable_door()->set_door(cmd.value("door", 1u));
    r->mutable_door()->set_state(cmd.value("state", "open") == "open" ? cit::v1::DOOR_STATE_OPEN
                                                                      : cit::v1::DOOR_STATE_CLOSED);
  } else if (op == "crew") {
    r->mutable_crew()->set_badge_id(cmd.at("badge").get<std::string>());
    r->mutable_crew()->set_action(cmd.value("action", "in") == "in"
                                      ? cit::v1::CREW_ACTION_CHECK_IN
                                      : cit::v1::CREW_ACTION_CHECK_OUT);
  } else {
    return "unknown op '" + op + "' (fix, panic, door, crew, close)";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"console_feeder: scripted vehicles for the browser tests"};
  std::string server = "localhost:7443";
  std::string certs;
  double retry_s = 30;
  app.add_option("--server", server, "telemetry address host:port");
  app.add_option("--certs", certs, "directory with ca.crt and ca.key (deploy/make-certs.sh)")
      ->required();
  app.add_option("--retry-s", retry_s, "how long to retry a record while the server is away");
  CLI11_PARSE(app, argc, argv);

  cit::feeder::CertFactory factory;
  if (!factory.Load(certs)) {
    std::cerr << "console_feeder: cannot read " << certs << "/ca.crt and ca.key\n";
    return 2;
  }
  std::map<std::string, std::unique_ptr<Vehicle>> vehicles;
  auto vehicle = [&](const std::string& id) -> Vehicle& {
    auto& v = vehicles[id];
    if (!v) {
      const auto kc = factory.Make(id);
      grpc::SslCredentialsOptions o;
      o.pem_root_certs = factory.ca_pem();
      o.pem_private_key = kc.key_pem;
      o.pem_cert_chain = kc.cert_pem;
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per vehicle
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
      v = std::make_unique<Vehicle>(
          id, grpc::CreateCustomChannel(server, grpc::SslCredentials(o), args));
    }
    return *v;
  };

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    json out = {{"ok", false}};
    try {
      const json cmd = json::parse(line);
      if (cmd.contains("id")) out["id"] = cmd["id"];
      const std::string op = cmd.at("op").get<std::string>();
      const std::string id = cmd.at("vehicle").get<std::string>();
      out["vehicle"] = id;
      if (op == "close") {
        vehicle(id).Close();
        out["ok"] = true;
      } else {
        cit::v1::Record r;
        std::string err = BuildRecord(cmd, op, &r);
        uint64_t seq = 0;
        if (err.empty()) err = vehicle(id).Send(r, retry_s, &seq);
        if (err.empty()) {
          out["ok"] = true;
          out["seq"] = seq;
        } else {
          out["error"] = err;
        }
      }
    } catch (const std::exception& e) {
      out["error"] = std::string("bad command: ") + e.what();
    }
    std::cout << out.dump() << std::endl;
  }
  return 0;
}
