// fleet_load: N simulated vehicles, each with its own client certificate and Telemetry stream,
// against a running dispatch-server over TLS. Prints sustained fixes/s (acknowledged, i.e.
// committed) and the ack latency percentiles (batch written -> Ack covering it).
//
//   deploy/make-certs.sh /tmp/fleet                          # CA + server certificate
//   dispatch-server --tls-ca /tmp/fleet/ca.crt --tls-cert /tmp/fleet/server.crt
//       --tls-key /tmp/fleet/server.key --database /tmp/fleet/load.db --metrics-listen ""
//   fleet_load --certs /tmp/fleet --vehicles 1000 --duration-s 20          # as fast as possible
//   fleet_load --certs /tmp/fleet --vehicles 1000 --rate-hz 1 --batch 1    # real fleet pace
//   fleet_load --certs /tmp/fleet --vehicles 5000 --backlog 3600 --connect-ramp-s 10
//       --batch 500 --window 4000                     # reconnect storm (bench/storm.sh)
//
// Storm mode (--backlog N): every vehicle reconnects holding N records of 1 Hz backlog
// (event times N s ago up to now, declared in Hello.backlog_records) and sends them as fast
// as its window and the server's flow control allow; vehicles connect spread over
// --connect-ramp-s. It runs until every vehicle's backlog is acknowledged (or --duration-s
// passes) and prints the time to drain. Records are generated as they are sent (the server
// cannot tell), so 5,000 x 1 h of backlog does not need gigabytes in this process.
//
// Vehicle certificates: <certs>/<id>.crt/.key when present, else made in memory and signed with
// <certs>/ca.key (so 1,000 vehicles need no 1,000 openssl runs).
//
// Threads: gRPC callback threads run every vehicle's reactor; one pacing thread releases
// records at --rate-hz; main prints results.
#include <grpcpp/grpcpp.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cit/v1/telemetry.grpc.pb.h"

namespace {

using Steady = std::chrono::steady_clock;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- in-memory vehicle certificates ------------------------------------------------------

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

class CertFactory {
 public:
  bool Load(const std::filesystem::path& dir) {
    BIO* c = BIO_new_file((dir / "ca.crt").c_str(), "r");
    BIO* k = BIO_new_file((dir / "ca.key").c_str(), "r");
    if (c != nullptr) ca_ = PEM_read_bio_X509(c, nullptr, nullptr, nullptr);
    if (k != nullptr) ca_key_ = PEM_read_bio_PrivateKey(k, nullptr, nullptr, nullptr);
    BIO_free(c);
    BIO_free(k);
    return ca_ != nullptr && ca_key_ != nullptr;
  }
  ~CertFactory() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
  }

  KeyAndCert Make(const std::string& id, long serial) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 7L * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(id.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca_));
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca_, x, nullptr, nullptr, 0);
    const std::string san = "DNS:" + id;
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                              std::pair{NID_ext_key_usage, "clientAuth"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(x, ca_key_, EVP_sha256());
    KeyAndCert out;
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    out.key_pem.assign(data, n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    n = BIO_get_mem_data(b, &data);
    out.cert_pem.assign(data, n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
    return out;
  }

 private:
  X509* ca_ = nullptr;
  EVP_PKEY* ca_key_ = nullptr;
};

// ---- one simulated vehicle ----------------------------------------------------------------

struct Config {
  int batch = 50;
  int window = 400;             // unacked records per vehicle
  double rate_hz = 0;           // per-vehicle records/s; 0 = as fast as the window allows
  uint64_t backlog = 0;         // storm mode: records to replay, then stop
  int64_t backlog_start_s = 0;  // event time of the first backlog record (Unix s)
};

class Vehicle final
    : public grpc::ClientBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage> {
 public:
  Vehicle(std::string id, const Config& cfg, std::shared_ptr<grpc::Channel> channel)
      : id_(std::move(id)), cfg_(cfg), stub_(cit::v1::Telemetry::NewStub(channel)) {}

  void Start() {
    stub_->async()->Stream(&ctx_, this);
    out_.mutable_hello()->set_vehicle_id(id_);
    out_.mutable_hello()->set_agent_version("fleet_load");
    out_.mutable_hello()->set_backlog_records(cfg_.backlog);
    writing_ = true;
    StartWrite(&out_);
    StartRead(&in_);
    AddHold();  // writes are also started from the pacing thread (Kick)
    StartCall();
  }

  // Pacing: `due` records may have been generated by now.
  void Kick(uint64_t due) {
    std::lock_guard<std::mutex> lock(mu_);
    due_ = due;
    MaybeSendLocked();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  void Release() {
    RemoveHold();
    ctx_.TryCancel();
  }

  uint64_t acked() const { return acked_.load(); }
  // Storm mode: the whole backlog is acknowledged.
  bool drained() const {
    return welcomed_.load() && acked_.load() >= first_seq_.load() - 1 + cfg_.backlog;
  }
  bool done() const { return done_.load(); }
  bool welcomed() const { return welcomed_.load(); }
  const grpc::Status& status() const { return status_; }
  uint64_t rejects() const { return rejects_.load(); }
  std::vector<float> TakeLatencies() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(latencies_ms_);
  }
  void ClearLatencies() {
    std::lock_guard<std::mutex> lock(mu_);
    latencies_ms_.clear();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (ok) MaybeSendLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const auto now = Steady::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (in_.has_welcome()) {
        next_seq_ = in_.welcome().highest_stored_seq() + 1;
        acked_ = in_.welcome().highest_stored_seq();
        first_seq_ = next_seq_;
        welcomed_ = true;
        MaybeSendLocked();
      } else if (in_.has_ack()) {
        const uint64_t through = in_.ack().through_seq();
        acked_ = std::max(acked_.load(), through);
        while (!sent_.empty() && sent_.begin()->first <= through) {
          latencies_ms_.push_back(static_cast<float>(
              std::chrono::duration<double, std::milli>(now - sent_.begin()->second).count()));
          sent_.erase(sent_.begin());
        }
        MaybeSendLocked();
      } else if (in_.has_rejected()) {
        rejects_++;
      }
    }
    StartRead(&in_);
  }

  void OnDone(const grpc::Status& s) override {
    status_ = s;
    done_ = true;
  }

 private:
  void MaybeSendLocked() {
    if (writing_ || !welcomed_ || stopping_) return;
    const uint64_t generated = next_seq_ - first_seq_;
    uint64_t allowed = cfg_.rate_hz > 0 ? (due_ > generated ? due_ - generated : 0) : UINT64_MAX;
    if (cfg_.backlog > 0) {
      allowed = cfg_.backlog - std::min(generated, cfg_.backlog);
      if (allowed == 0) return;
    } else if (allowed < static_cast<uint64_t>(cfg_.batch)) {
      return;  // paced: send full batches, as an agent batching its journal would
    }
    const uint64_t in_flight = next_seq_ - 1 - acked_.load();
    if (in_flight >= static_cast<uint64_t>(cfg_.window)) return;
    allowed =
        std::min<uint64_t>({allowed, static_cast<uint64_t>(cfg_.batch), cfg_.window - in_flight});
    if (allowed == 0) return;
    out_.Clear();
    auto* batch = out_.mutable_batch();
    const auto wall = std::chrono::system_clock::now().time_since_epoch();
    const int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(wall).count();
    for (uint64_t i = 0; i < allowed; ++i) {
      cit::v1::Record* r = batch->add_records();
      const uint64_t seq = next_seq_++;
      r->set_seq(seq);
      r->mutable_event_time()->set_seconds(
          cfg_.backlog > 0 ? cfg_.backlog_start_s + static_cast<int64_t>(seq - first_seq_) : sec);
      *r->mutable_agent_time() = r->event_time();
      r->set_agent_monotonic_ns(static_cast<int64_t>(seq) * 1'000'000'000);
      r->set_agent_boot(1);
      auto* f = r->mutable_fix();
      f->set_lat_deg(47.0 + 1e-5 * static_cast<double>(seq % 10000));
      f->set_lon_deg(8.5);
      f->set_mode(cit::v1::FIX_MODE_3D);
      f->set_speed_mps(13.9);
      f->set_track_deg(90);
      f->set_eph_m(3.5);
      f->set_satellites_used(11);
    }
    sent_.emplace(next_seq_ - 1, Steady::now());
    writing_ = true;
    StartWrite(&out_);
  }

  const std::string id_;
  const Config cfg_;
  std::unique_ptr<cit::v1::Telemetry::Stub> stub_;
  grpc::ClientContext ctx_;
  cit::v1::AgentMessage out_;
  cit::v1::ServerMessage in_;

  std::mutex mu_;
  bool writing_ = false;
  bool stopping_ = false;
  uint64_t next_seq_ = 1;
  std::atomic<uint64_t> first_seq_{1};
  uint64_t due_ = 0;
  std::map<uint64_t, Steady::time_point> sent_;  // last seq of a batch -> when written
  std::vector<float> latencies_ms_;
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> rejects_{0};
  std::atomic<bool> welcomed_{false};
  std::atomic<bool> done_{false};
  grpc::Status status_;
};

double Percentile(std::vector<float>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// Storm mode: waits until every vehicle's backlog is acknowledged or `max_s` passes.
int RunStorm(std::vector<std::unique_ptr<Vehicle>>& fleet, const Config& cfg, double max_s,
             Steady::time_point t_connect, std::atomic<bool>& running, std::thread& pacer) {
  const uint64_t total = cfg.backlog * fleet.size();
  size_t drained = 0;
  uint64_t acked = 0;
  auto next_report = Steady::now();
  double all_welcomed_s = -1;  // when the last vehicle was welcomed (TLS handshake + Hello)
  while (Steady::now() - t_connect < std::chrono::duration<double>(max_s)) {
    drained = 0;
    acked = 0;
    int welcomed = 0;
    for (auto& v : fleet) {
      drained += v->drained() ? 1 : 0;
      acked += v->acked();
      welcomed += v->welcomed() ? 1 : 0;
    }
    if (all_welcomed_s < 0 && welcomed == static_cast<int>(fleet.size())) {
      all_welcomed_s = std::chrono::duration<double>(Steady::now() - t_connect).count();
    }
    if (drained == fleet.size()) break;
    if (Steady::now() >= next_report) {
      std::cerr << "  t=" << std::chrono::duration<double>(Steady::now() - t_connect).count()
                << " s welcomed=" << welcomed << " drained=" << drained << " acked=" << acked << "/"
                << total << "\n";
      next_report += std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double drain_s = std::chrono::duration<double>(Steady::now() - t_connect).count();
  uint64_t ended = 0, rejects = 0;
  for (auto& v : fleet) {
    ended += v->done() ? 1 : 0;
    rejects += v->rejects();
  }
  std::printf(
      "storm vehicles=%zu backlog_per_vehicle=%llu batch=%d window=%d records=%llu "
      "acked=%llu vehicles_drained=%zu all_welcomed_s=%.1f drain_s=%.1f records_per_s=%.0f "
      "rejects=%llu streams_ended=%llu\n",
      fleet.size(), static_cast<unsigned long long>(cfg.backlog), cfg.batch, cfg.window,
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(acked), drained,
      all_welcomed_s, drain_s, static_cast<double>(acked) / drain_s,
      static_cast<unsigned long long>(rejects), static_cast<unsigned long long>(ended));
  std::fflush(stdout);
  running = false;
  pacer.join();
  for (auto& v : fleet) v->Stop();
  for (auto& v : fleet) v->Release();
  const auto t_end = Steady::now();
  while (Steady::now() - t_end < std::chrono::seconds(10)) {
    bool all = std::all_of(fleet.begin(), fleet.end(), [](auto& v) { return v->done(); });
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return drained == fleet.size() && ended == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fleet_load: simulated vehicles streaming fixes to a running dispatch-server"};
  std::string target = "localhost:7443";
  std::string certs_dir;
  int vehicles = 1000;
  double duration_s = 20, warmup_s = 3;
  std::string prefix = "LOAD-";
  Config cfg;
  app.add_option("--target", target,
                 "dispatch-server telemetry address (host must match the "
                 "server certificate: localhost or 127.0.0.1)");
  app.add_option("--certs", certs_dir, "Directory with ca.crt (+ ca.key, or <id>.crt/.key)")
      ->required();
  app.add_option("--vehicles", vehicles, "Simulated vehicles (one stream and certificate each)");
  app.add_option("--duration-s", duration_s, "Measurement time after warm-up, seconds");
  app.add_option("--warmup-s", warmup_s, "Warm-up before measuring, seconds");
  app.add_option("--batch", cfg.batch, "Records per RecordBatch");
  app.add_option("--window", cfg.window, "Unacknowledged records allowed per vehicle");
  app.add_option("--rate-hz", cfg.rate_hz, "Records per second per vehicle (0 = unlimited)");
  app.add_option("--prefix", prefix, "Vehicle id prefix (ids are <prefix>0001 ...)");
  double ramp_s = 0;
  app.add_option("--backlog", cfg.backlog,
                 "Storm mode: records of 1 Hz backlog per vehicle, sent as fast as flow control "
                 "allows; runs until all are acknowledged or --duration-s passes");
  app.add_option("--connect-ramp-s", ramp_s, "Spread the vehicles' connects over this time");
  CLI11_PARSE(app, argc, argv);
  if (cfg.backlog > 0) {
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    cfg.backlog_start_s = now_s - static_cast<int64_t>(cfg.backlog);
  }

  const std::filesystem::path dir(certs_dir);
  const std::string ca = ReadFile(dir / "ca.crt");
  CertFactory factory;
  const bool can_sign = factory.Load(dir);

  std::cerr << "fleet_load: preparing " << vehicles << " vehicle certificates\n";
  std::vector<std::unique_ptr<Vehicle>> fleet;
  for (int i = 1; i <= vehicles; ++i) {
    char id[64];
    std::snprintf(id, sizeof id, "%s%04d", prefix.c_str(), i);
    KeyAndCert kc;
    if (std::filesystem::exists(dir / (std::string(id) + ".crt"))) {
      kc.cert_pem = ReadFile(dir / (std::string(id) + ".crt"));
      kc.key_pem = ReadFile(dir / (std::string(id) + ".key"));
    } else if (can_sign) {
      kc = factory.Make(id, 100000 + i);
    } else {
      std::cerr << "fleet_load: no certificate for " << id << " and no ca.key to make one\n";
      return 2;
    }
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ca;
    o.pem_private_key = kc.key_pem;
    o.pem_cert_chain = kc.cert_pem;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per vehicle
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
    auto channel = grpc::CreateCustomChannel(target, grpc::SslCredentials(o), args);
    fleet.push_back(std::make_unique<Vehicle>(id, cfg, channel));
  }
  const auto t_connect = Steady::now();
  for (size_t i = 0; i < fleet.size(); ++i) {
    if (ramp_s > 0) {
      std::this_thread::sleep_until(
          t_connect + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(
                          ramp_s * static_cast<double>(i) / static_cast<double>(fleet.size()))));
    }
    fleet[i]->Start();
  }
  // The ramp is what was asked; on a loaded machine the channel setup of each first call (TLS
  // context, connect) can make starting the calls take longer.
  std::cerr << "fleet_load: " << fleet.size() << " streams started in "
            << std::chrono::duration<double>(Steady::now() - t_connect).count() << " s\n";

  // Pacing thread (rate mode): the clock starts once every stream is welcomed, so the
  // handshakes do not turn into a backlog burst.
  std::atomic<bool> running{true};
  std::atomic<bool> all_welcomed{false};
  std::thread pacer([&] {
    while (running && !all_welcomed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto start = Steady::now();
    while (running) {
      const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
      const uint64_t due = cfg.rate_hz > 0 ? static_cast<uint64_t>(elapsed * cfg.rate_hz) : 0;
      if (cfg.rate_hz > 0) {
        for (auto& v : fleet) v->Kick(due);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(cfg.rate_hz > 0 ? 20 : 100));
    }
  });

  auto total_acked = [&] {
    uint64_t n = 0;
    for (auto& v : fleet) n += v->acked();
    return n;
  };
  auto welcomed = [&] {
    int n = 0;
    for (auto& v : fleet) n += v->welcomed() ? 1 : 0;
    return n;
  };
  if (cfg.backlog > 0) return RunStorm(fleet, cfg, duration_s, t_connect, running, pacer);
  // Wait for every stream to be welcomed (TLS handshakes), at most 60 s.
  while (welcomed() < vehicles && Steady::now() - t_connect < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  all_welcomed = true;
  const double connect_s = std::chrono::duration<double>(Steady::now() - t_connect).count();
  std::cerr << "fleet_load: " << welcomed() << "/" << vehicles << " streams welcomed in "
            << connect_s << " s; warming up " << warmup_s << " s\n";
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup_s));
  for (auto& v : fleet) v->ClearLatencies();
  const uint64_t acked0 = total_acked();
  const auto t0 = Steady::now();
  for (int s = 0; s < static_cast<int>(duration_s); ++s) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::cerr << "  t=" << s + 1 << " s acked=" << total_acked() - acked0 << "\n";
  }
  const uint64_t acked1 = total_acked();
  const double elapsed = std::chrono::duration<double>(Steady::now() - t0).count();

  std::vector<float> lat;
  uint64_t rejects = 0, ended = 0;
  for (auto& v : fleet) {
    auto l = v->TakeLatencies();
    lat.insert(lat.end(), l.begin(), l.end());
    rejects += v->rejects();
    ended += v->done() ? 1 : 0;
  }
  const double rate = static_cast<double>(acked1 - acked0) / elapsed;
  std::printf("vehicles=%d batch=%d window=%d rate_hz=%g streams_welcomed=%d streams_ended=%llu\n",
              vehicles, cfg.batch, cfg.window, cfg.rate_hz, welcomed(),
              static_cast<unsigned long long>(ended));
  std::printf("acked_fixes=%llu seconds=%.2f fixes_per_s=%.0f rejects=%llu\n",
              static_cast<unsigned long long>(acked1 - acked0), elapsed, rate,
              static_cast<unsigned long long>(rejects));
  std::printf("ack_latency_ms p50=%.2f p90=%.2f p99=%.2f (batches=%zu)\n", Percentile(lat, 0.50),
              Percentile(lat, 0.90), Percentile(lat, 0.99), lat.size());
  std::fflush(stdout);

  running = false;
  pacer.join();
  for (auto& v : fleet) v->Stop();
  for (auto& v : fleet) v->Release();
  const auto t_end = Steady::now();
  while (Steady::now() - t_end < std::chrono::seconds(10)) {
    bool all = std::all_of(fleet.begin(), fleet.end(), [](auto& v) { return v->done(); });
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ended == 0 ? 0 : 1;
}
