// Live alert latency with a connected fleet (issue 16 §4; DESIGN §12: p99 fix-to-alert < 2 ms):
// N vehicles, each with its own client certificate and mTLS Telemetry stream (as production),
// send one fix per second (batch of 1, phases spread over the second, or all at the top of the
// second with --aligned), and the fleet sends --panics PANIC records per second in all, each
// from a vehicle in turn as its own batch. A WatchAlerts client (server TLS, as dispatchctl)
// reads the alerts.
//
// The server is the real assembly (DispatchServer + RunMonitoring: ingest with group commit
// into SQLite with fsync, monitor with all rules against a dispatched run per vehicle, alert
// manager, watchers) in a child process, so its gRPC threads, CPU and scheduling are its own and
// not shared with the load generator's, as on a real deployment (both still share the cores).
//
// Two figures, counted after the warm-up:
//  - server-side: the AlertManager's cit_record_to_alert_seconds histogram (ingest read the
//    record -> its alert event published, i.e. the WatchAlerts stream write started), every
//    alert raised from a live record; bucket bounds, 25% resolution, so "<=";
//  - client-side: the agent-side client made the panic batch (before its stream write, so any
//    wait behind the vehicle's own write in flight counts) -> the watcher read the PANIC alert.
//
//   deploy/make-certs.sh /tmp/fleet          # ca.crt/.key, server.crt/.key (vehicles in memory)
//   build/ci/bench/alert_latency_bench --certs /tmp/fleet --vehicles 5000 --seconds 30
//       [--panics 50] [--warmup 10] [--aligned] [--durability full|normal]
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/vehicle_certs.h"
#include "cit/v1/dispatch.grpc.pb.h"
#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/lock_graph.h"
#include "dispatch-server/server/run_monitoring.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {
namespace {

using Steady = std::chrono::steady_clock;

struct Args {
  std::filesystem::path certs;
  int vehicles = 1000;
  int seconds = 30;
  int panics_per_s = 50;
  // Connection set-up, first-use allocations and every truck leaving its depot (a run-state
  // write each) happen first and are not measured.
  double warmup_s = 10.0;
  bool aligned = false;  // every vehicle's fix at the top of the second (GNSS-synchronised)
  bool full_durability = true;
};

bool Parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--aligned") {
      a->aligned = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (k == "--certs")
      a->certs = v;
    else if (k == "--vehicles")
      a->vehicles = std::stoi(v);
    else if (k == "--seconds")
      a->seconds = std::stoi(v);
    else if (k == "--panics")
      a->panics_per_s = std::stoi(v);
    else if (k == "--warmup")
      a->warmup_s = std::stod(v);
    else if (k == "--durability")
      a->full_durability = v != "normal";
    else
      return false;
  }
  return !a->certs.empty() && a->vehicles > 0 && a->seconds > 0;
}

std::string VehicleId(int i) {
  char id[32];
  std::snprintf(id, sizeof id, "LAT-%05d", i);
  return id;
}

cit::v1::Position At(double x_m, double y_m) {
  cit::v1::Position p;
  p.set_lat_deg(47.3 + y_m / 111'132.0);
  p.set_lon_deg(8.5 + x_m / (111'132.0 * std::cos(47.3 * M_PI / 180)));
  return p;
}

std::string LoadAverage() {
  std::string s = bench::ReadWholeFile("/proc/loadavg");
  const size_t third = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);
  return third == std::string::npos ? s : s.substr(0, third);
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// ---- the server (child process) -----------------------------------------------------------

// Commands from the parent on `cmd`: 'm' marks the start of the measurement, 'r' prints the
// server-side figures since the mark, 'q' shuts down. Ports and acknowledgements go to `out`.
int ServeChild(const Args& args, int cmd, int out) {
  spdlog::set_level(spdlog::level::warn);
  char tmpl[] = "/tmp/alert_latency_XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  SystemClock clock;
  DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:0";
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.tls = {.ca_file = args.certs / "ca.crt",
           .cert_file = args.certs / "server.crt",
           .key_file = args.certs / "server.key"};
  o.database_path = dir / "dispatch.db";
  o.durability = args.full_durability ? sqlite::Durability::kFull : sqlite::Durability::kNormal;
  RunMonitoringOptions rmo;
  rmo.database_path = o.database_path;
  auto rm = RunMonitoring::Open(rmo, &clock);
  if (!rm.ok()) {
    std::fprintf(stderr, "%s\n", rm.status().ToString().c_str());
    return 1;
  }
  DispatchServer::Builder builder(o);
  (*rm)->Register(builder);
  auto server = builder.Start();
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  (*rm)->Start();

  // A dispatched run per vehicle: a 20 km straight route with 20 stops.
  for (int v = 0; v < args.vehicles; ++v) {
    cit::v1::RunPlan plan;
    plan.set_run_id("R-" + std::to_string(v));
    plan.set_vehicle_id(VehicleId(v));
    for (int x = 0; x <= 20'000; x += 40) *plan.mutable_route()->add_points() = At(x, 0);
    for (int s = 0; s < 20; ++s) {
      cit::v1::Stop* stop = plan.add_stops();
      stop->set_stop_id("S" + std::to_string(s));
      *stop->mutable_position() = At(1000.0 * s + 500, 0);
      stop->set_radius_m(30);
      stop->set_doors_may_open(true);
    }
    if (!(*rm)->runs().Create(plan, "bench").ok() ||
        !(*rm)->runs().Dispatch(plan.run_id(), "bench").ok()) {
      std::fprintf(stderr, "could not dispatch run %d\n", v);
      return 1;
    }
  }
  const int ports[2] = {(*server)->telemetry_port(), (*server)->operator_port()};
  if (write(out, ports, sizeof ports) != sizeof ports) return 1;

  Histogram& hist = builder.metrics().GetHistogram("cit_record_to_alert_seconds", "", {});
  Counter& events = builder.metrics().GetCounter("cit_alert_events_total", "");
  std::vector<uint64_t> mark(hist.bounds().size() + 1);
  uint64_t events_mark = 0, records_mark = 0, on_arrival_mark = 0, ahead_mark = 0;
  double cpu_mark = 0;
  auto wall_mark = Steady::now();
  char c = 0;
  while (read(cmd, &c, 1) == 1 && c != 'q') {
    if (c == 'm') {
      for (size_t i = 0; i < mark.size(); ++i) mark[i] = hist.bucket(i);
      events_mark = static_cast<uint64_t>(events.value());
      records_mark = (*rm)->monitor().records_processed();
      on_arrival_mark = (*rm)->monitor().records_evaluated_on_arrival();
      ahead_mark = (*rm)->monitor().records_queued_ahead();
      cpu_mark = CpuSeconds();
      wall_mark = Steady::now();
    } else if (c == 'r') {
      std::vector<uint64_t> n(mark.size());
      uint64_t total = 0;
      for (size_t i = 0; i < n.size(); ++i) total += n[i] = hist.bucket(i) - mark[i];
      auto bound_us = [&](double p) {
        uint64_t seen = 0;
        for (size_t i = 0; i < n.size(); ++i) {
          seen += n[i];
          if (total > 0 && static_cast<double>(seen) >= p * static_cast<double>(total)) {
            return i < hist.bounds().size() ? hist.bounds()[i] * 1e6 : INFINITY;
          }
        }
        return 0.0;
      };
      const double wall = std::chrono::duration<double>(Steady::now() - wall_mark).count();
      std::printf(
          "server-side record->alert published, %llu alerts: p50 <= %.0f us, p90 <= %.0f us, "
          "p99 <= %.0f us\n"
          "server: %llu records evaluated, %llu alert events, CPU %.2f cores (%.1f us per "
          "record), %d watchers, %llu records evaluated on arrival and %llu queued ahead "
          "(alarms)\n",
          static_cast<unsigned long long>(total), bound_us(0.5), bound_us(0.9), bound_us(0.99),
          static_cast<unsigned long long>((*rm)->monitor().records_processed() - records_mark),
          static_cast<unsigned long long>(static_cast<uint64_t>(events.value()) - events_mark),
          (CpuSeconds() - cpu_mark) / wall,
          (CpuSeconds() - cpu_mark) * 1e6 /
              std::max<double>(
                  1, static_cast<double>((*rm)->monitor().records_processed() - records_mark)),
          (*rm)->alerts_service().watchers(),
          static_cast<unsigned long long>((*rm)->monitor().records_evaluated_on_arrival() -
                                          on_arrival_mark),
          static_cast<unsigned long long>((*rm)->monitor().records_queued_ahead() - ahead_mark));
      std::fflush(stdout);
      if (write(out, "r", 1) != 1) return 1;
    }
  }
  (*server)->Shutdown();
  (*rm)->Stop();
  std::filesystem::remove_all(dir);
  return 0;
}

// ---- the fleet and the watcher (parent process) -------------------------------------------

// The panics in flight: subject -> when the agent-side client made the batch.
struct PanicLog {
  std::mutex mu;
  std::map<std::string, Steady::time_point> sent;
  std::vector<double> latencies_us;
  // The same, split at Alert.detected_time (the monitor evaluating the panic; system clock, as
  // the record's event_time set when the batch was made): made -> evaluated, evaluated -> read.
  std::vector<double> to_rules_us, to_watcher_us;
  bool measuring = false;
};

class Vehicle final
    : public grpc::ClientBidiReactor<cit::v1::AgentMessage, cit::v1::ServerMessage> {
 public:
  Vehicle(std::string id, std::shared_ptr<grpc::Channel> channel)
      : id_(std::move(id)), stub_(cit::v1::Telemetry::NewStub(channel)) {}

  void Start() {
    stub_->async()->Stream(&ctx_, this);
    out_.mutable_hello()->set_vehicle_id(id_);
    out_.mutable_hello()->set_agent_version("alert_latency_bench");
    writing_ = true;
    StartWrite(&out_);
    StartRead(&in_);
    AddHold();  // writes are also started from the pacing thread
    StartCall();
  }

  // One fix, moving 10 m/s along the route.
  void SendFix() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!welcomed_ || stopping_) return;
    cit::v1::AgentMessage m;
    cit::v1::Record* r = NewRecordLocked(m);
    auto* f = r->mutable_fix();
    const cit::v1::Position p = At(x_m_, 0);
    x_m_ = std::fmod(x_m_ + 10, 20'000);
    f->set_lat_deg(p.lat_deg());
    f->set_lon_deg(p.lon_deg());
    f->set_mode(cit::v1::FIX_MODE_3D);
    f->set_speed_mps(10);
    f->set_track_deg(90);
    f->set_eph_m(3.5);
    f->set_satellites_used(11);
    queue_.push_back(std::move(m));
    MaybeWriteLocked();
  }

  // A PANIC record as its own batch; false if the stream is not up.
  bool SendPanic(const std::string& subject, PanicLog* log) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!welcomed_ || stopping_) return false;
    cit::v1::AgentMessage m;
    NewRecordLocked(m)->mutable_panic()->set_source(subject);
    {
      std::lock_guard<std::mutex> l(log->mu);
      if (log->measuring) log->sent[subject] = Steady::now();
    }
    queue_.push_back(std::move(m));
    MaybeWriteLocked();
    return true;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    RemoveHold();
    ctx_.TryCancel();
  }

  bool welcomed() const { return welcomed_.load(); }
  bool done() const { return done_.load(); }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (ok) MaybeWriteLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (in_.has_welcome()) {
      std::lock_guard<std::mutex> lock(mu_);
      next_seq_ = in_.welcome().highest_stored_seq() + 1;
      welcomed_ = true;
    }
    StartRead(&in_);
  }

  void OnDone(const grpc::Status&) override { done_ = true; }

 private:
  cit::v1::Record* NewRecordLocked(cit::v1::AgentMessage& m) {
    cit::v1::Record* r = m.mutable_batch()->add_records();
    r->set_seq(next_seq_++);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    r->mutable_event_time()->set_seconds(ns / 1'000'000'000);
    r->mutable_event_time()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
    *r->mutable_agent_time() = r->event_time();
    r->set_agent_monotonic_ns(Steady::now().time_since_epoch().count());
    r->set_agent_boot(1);
    return r;
  }

  void MaybeWriteLocked() {
    if (writing_ || queue_.empty() || stopping_) return;
    out_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&out_);
  }

  const std::string id_;
  std::unique_ptr<cit::v1::Telemetry::Stub> stub_;
  grpc::ClientContext ctx_;
  cit::v1::AgentMessage out_;
  cit::v1::ServerMessage in_;
  std::mutex mu_;
  std::deque<cit::v1::AgentMessage> queue_;
  bool writing_ = false;
  bool stopping_ = false;
  uint64_t next_seq_ = 1;
  double x_m_ = 0;
  std::atomic<bool> welcomed_{false};
  std::atomic<bool> done_{false};
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

int RunFleet(const Args& args, int telemetry_port, int operator_port, int cmd, int ack) {
  const std::string ca = bench::ReadWholeFile(args.certs / "ca.crt");
  bench::VehicleCertFactory factory;
  if (!factory.Load(args.certs)) {
    std::fprintf(stderr, "no ca.crt/ca.key in %s (deploy/make-certs.sh DIR)\n", args.certs.c_str());
    return 1;
  }
  std::vector<std::unique_ptr<Vehicle>> fleet;
  for (int i = 0; i < args.vehicles; ++i) {
    const bench::VehicleKeyAndCert kc = factory.Make(VehicleId(i), 200'000 + i);
    grpc::SslCredentialsOptions so;
    so.pem_root_certs = ca;
    so.pem_private_key = kc.key_pem;
    so.pem_cert_chain = kc.cert_pem;
    grpc::ChannelArguments ca_args;
    ca_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per vehicle
    fleet.push_back(std::make_unique<Vehicle>(
        VehicleId(i), grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(telemetry_port),
                                                grpc::SslCredentials(so), ca_args)));
  }
  const auto t_connect = Steady::now();
  for (auto& v : fleet) v->Start();
  auto welcomed = [&] {
    return std::count_if(fleet.begin(), fleet.end(), [](auto& v) { return v->welcomed(); });
  };
  while (welcomed() < args.vehicles && Steady::now() - t_connect < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "alert_latency_bench: %ld/%d streams welcomed in %.1f s\n", welcomed(),
               args.vehicles, std::chrono::duration<double>(Steady::now() - t_connect).count());

  // The watcher: an operator's WatchAlerts stream over server TLS.
  grpc::SslCredentialsOptions wo;
  wo.pem_root_certs = ca;
  auto alerts_stub = cit::v1::Alerts::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(operator_port), grpc::SslCredentials(wo)));
  PanicLog log;
  grpc::ClientContext watch_ctx;
  cit::v1::WatchAlertsRequest wreq;
  wreq.set_min_severity(cit::v1::SEVERITY_CRITICAL);
  auto reader = alerts_stub->WatchAlerts(&watch_ctx, wreq);
  std::thread watcher([&] {
    cit::v1::AlertEvent e;
    while (reader->Read(&e)) {
      const auto now = Steady::now();
      const auto wall_now = std::chrono::system_clock::now();
      if (e.alert().kind() != cit::v1::ALERT_KIND_PANIC || e.alert().revision() != 1) continue;
      std::lock_guard<std::mutex> lock(log.mu);
      auto it = log.sent.find(e.alert().subject());
      if (it == log.sent.end()) continue;
      log.latencies_us.push_back(
          std::chrono::duration<double, std::micro>(now - it->second).count());
      auto micros = [](const google::protobuf::Timestamp& t) {
        return static_cast<double>(t.seconds()) * 1e6 + t.nanos() / 1e3;
      };
      const double detected_us = micros(e.alert().detected_time());
      log.to_rules_us.push_back(detected_us - micros(e.alert().event_time()));
      log.to_watcher_us.push_back(
          std::chrono::duration<double, std::micro>(wall_now.time_since_epoch()).count() -
          detected_us);
      log.sent.erase(it);
    }
  });

  // Pacing: vehicle i sends its fix at i/N of each second (or all at once with --aligned);
  // a panic every 1/panics s, from the vehicles in turn.
  std::atomic<bool> running{true};
  std::atomic<uint64_t> fixes{0};
  std::thread pacer([&] {
    const auto start = Steady::now();
    const int n = args.vehicles;
    int64_t next_fix_slot = 0;  // fixes sent so far, in slots of 1/N s
    int64_t panics = 0;
    const double panic_period_s = args.panics_per_s > 0 ? 1.0 / args.panics_per_s : 1e9;
    while (running) {
      const double t = std::chrono::duration<double>(Steady::now() - start).count();
      const int64_t due_slot =
          args.aligned ? static_cast<int64_t>(std::floor(t) + 1) * n : static_cast<int64_t>(t * n);
      for (; next_fix_slot < due_slot; ++next_fix_slot) {
        fleet[static_cast<size_t>(next_fix_slot % n)]->SendFix();
        ++fixes;
      }
      for (; panics * panic_period_s <= t; ++panics) {
        // A stride coprime-ish with N so consecutive panics come from distant vehicles.
        const size_t v = static_cast<size_t>((panics * 7919) % n);
        fleet[v]->SendPanic("p" + std::to_string(panics), &log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  std::this_thread::sleep_for(std::chrono::duration<double>(args.warmup_s));
  const std::string load_before = LoadAverage();
  {
    std::lock_guard<std::mutex> lock(log.mu);
    log.measuring = true;
  }
  if (write(cmd, "m", 1) != 1) return 1;
  const uint64_t fixes0 = fixes.load();
  const double cpu0 = CpuSeconds();
  const auto t0 = Steady::now();
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  {
    std::lock_guard<std::mutex> lock(log.mu);
    log.measuring = false;
  }
  const double elapsed = std::chrono::duration<double>(Steady::now() - t0).count();
  const double client_cpu = (CpuSeconds() - cpu0) / elapsed;
  const uint64_t fixes_measured = fixes.load() - fixes0;
  // Panics sent near the end get their alerts in the next moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  char c = 0;
  if (write(cmd, "r", 1) != 1 || read(ack, &c, 1) != 1) return 1;
  const std::string load_after = LoadAverage();
  running = false;
  pacer.join();

  std::vector<double> l, to_rules, to_watcher;
  size_t missing = 0;
  {
    std::lock_guard<std::mutex> lock(log.mu);
    l = log.latencies_us;
    to_rules = log.to_rules_us;
    to_watcher = log.to_watcher_us;
    missing = log.sent.size();
  }
  std::sort(l.begin(), l.end());
  std::sort(to_rules.begin(), to_rules.end());
  std::sort(to_watcher.begin(), to_watcher.end());
  std::printf(
      "vehicles %d (%s), %.0f fixes/s + %d panics/s, %.1f s measured, durability %s\n"
      "client-side panic batch made -> alert read, %zu alerts (%zu unseen): p50 %.0f us, p90 "
      "%.0f us, p99 %.0f us, max %.0f us\n"
      "  split: made -> evaluated by the monitor p50 %.0f us, p99 %.0f us; evaluated -> read by "
      "the watcher p50 %.0f us, p99 %.0f us\n"
      "load generator CPU %.2f cores; load average before %s, after %s; nproc %u\n",
      args.vehicles, args.aligned ? "aligned" : "spread",
      static_cast<double>(fixes_measured) / elapsed, args.panics_per_s, elapsed,
      args.full_durability ? "full" : "normal", l.size(), missing, Percentile(l, 0.5),
      Percentile(l, 0.9), Percentile(l, 0.99), l.empty() ? 0.0 : l.back(),
      Percentile(to_rules, 0.5), Percentile(to_rules, 0.99), Percentile(to_watcher, 0.5),
      Percentile(to_watcher, 0.99), client_cpu, load_before.c_str(), load_after.c_str(),
      std::thread::hardware_concurrency());
  std::fflush(stdout);

  watch_ctx.TryCancel();
  watcher.join();
  reader->Finish().IgnoreError();
  for (auto& v : fleet) v->Stop();
  const auto t_end = Steady::now();
  while (Steady::now() - t_end < std::chrono::seconds(10) &&
         !std::all_of(fleet.begin(), fleet.end(), [](auto& v) { return v->done(); })) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

int Run(const Args& args) {
  // The server does this in DispatchServer::Builder::Start(); the load generator too, since its
  // thousands of connections stand for as many agent processes of one connection each.
  StopAbslLockGraph();
  // Fork before any gRPC or thread exists in this process.
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) return 1;
  const pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    close(to_child[1]);
    close(from_child[0]);
    _exit(ServeChild(args, to_child[0], from_child[1]));
  }
  close(to_child[0]);
  close(from_child[1]);
  int ports[2] = {0, 0};
  int rc = 1;
  if (read(from_child[0], ports, sizeof ports) == sizeof ports) {
    rc = RunFleet(args, ports[0], ports[1], to_child[1], from_child[0]);
  } else {
    std::fprintf(stderr, "alert_latency_bench: the server did not start\n");
  }
  close(to_child[1]);  // EOF: the child shuts down
  int status = 0;
  waitpid(pid, &status, 0);
  return rc != 0 ? rc : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

}  // namespace
}  // namespace cit::dispatch

int main(int argc, char** argv) {
  cit::dispatch::Args args;
  if (!cit::dispatch::Parse(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: alert_latency_bench --certs DIR [--vehicles N] [--seconds S] "
                 "[--panics P] [--warmup W] [--aligned] [--durability full|normal]\n"
                 "DIR: ca.crt, ca.key, server.crt, server.key (deploy/make-certs.sh DIR)\n");
    return 2;
  }
  return cit::dispatch::Run(args);
}
