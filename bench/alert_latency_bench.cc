// Fix-to-alert latency through the whole server on loopback (DESIGN §12: p99 < 2 ms at 10k
// fixes/s): N agents stream fixes over Telemetry.Stream (plaintext loopback, real ingest with
// group commit into SQLite, monitor, all rules against a dispatched run per vehicle), and some
// batches carry a PANIC record; a WatchAlerts client timestamps each alert's arrival. Latency is
// measured client-side, from just before the batch holding the panic is written to the stream
// until its alert event is read from WatchAlerts: it includes both loopback hops and the client
// threads' scheduling, so it bounds "record received by the server -> alert written on a
// WatchAlerts stream" from above. The server-side figure comes from the AlertManager's
// cit_record_to_alert_seconds histogram (ingest read the record -> alert event published to
// the WatchAlerts streams), bucket resolution 25%.
//
//   build/dev/bench/alert_latency_bench --rate 10000 --seconds 10 --vehicles 10 --durability full
//       [--panics 100] [--warmup 1]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cit/v1/dispatch.grpc.pb.h"
#include "cit/v1/telemetry.grpc.pb.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/run_monitoring.h"
#include "spdlog/spdlog.h"

namespace cit::dispatch {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int rate = 10'000;  // fixes per second, all vehicles together
  int seconds = 10;
  int vehicles = 10;
  int panics_per_s = 100;
  // Panics sent in the first seconds are not measured: connection setup, thread pools and
  // first-use allocations would otherwise dominate the tail.
  double warmup_s = 1.0;
  bool full_durability = true;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--rate")
      a.rate = std::stoi(v);
    else if (k == "--seconds")
      a.seconds = std::stoi(v);
    else if (k == "--vehicles")
      a.vehicles = std::stoi(v);
    else if (k == "--panics")
      a.panics_per_s = std::stoi(v);
    else if (k == "--warmup")
      a.warmup_s = std::stod(v);
    else if (k == "--durability")
      a.full_durability = v != "normal";
  }
  return a;
}

cit::v1::Position At(double x_m, double y_m) {
  cit::v1::Position p;
  p.set_lat_deg(47.3 + y_m / 111'132.0);
  p.set_lon_deg(8.5 + x_m / (111'132.0 * std::cos(47.3 * M_PI / 180)));
  return p;
}

int Run(const Args& args) {
  spdlog::set_level(spdlog::level::warn);
  char tmpl[] = "/tmp/alert_latency_XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  SystemClock clock;
  DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:0";
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.insecure_dev = true;
  o.ingest.identity_from_hello = true;
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
    plan.set_vehicle_id("CIT-" + std::to_string(v));
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
      return 1;
    }
  }

  auto op = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->operator_port()),
                                grpc::InsecureChannelCredentials());
  auto alerts_stub = cit::v1::Alerts::NewStub(op);
  std::mutex mu;
  std::map<std::string, Clock::time_point> sent;  // panic subject -> send time
  std::vector<double> latencies_us;
  std::vector<std::pair<double, double>> worst;  // (send time since start in s, latency in us)
  const auto bench_start = Clock::now();
  grpc::ClientContext watch_ctx;
  cit::v1::WatchAlertsRequest wreq;
  wreq.set_min_severity(cit::v1::SEVERITY_CRITICAL);
  auto reader = alerts_stub->WatchAlerts(&watch_ctx, wreq);
  std::thread watcher([&] {
    cit::v1::AlertEvent e;
    while (reader->Read(&e)) {
      const auto now = Clock::now();
      if (e.alert().kind() != cit::v1::ALERT_KIND_PANIC || e.alert().revision() != 1) continue;
      std::lock_guard<std::mutex> lock(mu);
      auto it = sent.find(e.alert().subject());
      if (it != sent.end() &&
          std::chrono::duration<double>(it->second - bench_start).count() >= args.warmup_s) {
        latencies_us.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
        worst.emplace_back(std::chrono::duration<double>(it->second - bench_start).count(),
                           latencies_us.back());
      }
    }
  });

  auto tel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->telemetry_port()),
                                 grpc::InsecureChannelCredentials());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> fixes_sent{0};
  std::atomic<int> panic_counter{0};
  std::vector<std::thread> agents;
  const int per_vehicle_rate = std::max(1, args.rate / args.vehicles);
  constexpr int kBatchesPerSecond = 100;  // a batch every 10 ms
  const int fixes_per_batch = std::max(1, per_vehicle_rate / kBatchesPerSecond);
  const int panic_every =
      std::max(1, args.vehicles * kBatchesPerSecond / std::max(1, args.panics_per_s));
  for (int v = 0; v < args.vehicles; ++v) {
    agents.emplace_back([&, v] {
      auto stub = cit::v1::Telemetry::NewStub(tel);
      grpc::ClientContext ctx;
      auto rw = stub->Stream(&ctx);
      cit::v1::AgentMessage hello;
      hello.mutable_hello()->set_vehicle_id("CIT-" + std::to_string(v));
      rw->Write(hello);
      std::thread acks([&] {
        cit::v1::ServerMessage m;
        while (rw->Read(&m)) {
        }
      });
      uint64_t seq = 0;
      double x = 0;
      int batch_no = 0;
      auto next = Clock::now();
      while (!stop.load()) {
        cit::v1::AgentMessage msg;
        auto* batch = msg.mutable_batch();
        const auto wall = std::chrono::system_clock::now();
        for (int i = 0; i < fixes_per_batch; ++i) {
          cit::v1::Record* r = batch->add_records();
          r->set_seq(++seq);
          const auto ns =
              std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count();
          r->mutable_event_time()->set_seconds(ns / 1'000'000'000);
          r->mutable_event_time()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
          const cit::v1::Position p = At(x, 0);
          x = std::fmod(x + 0.1, 20'000);
          r->mutable_fix()->set_lat_deg(p.lat_deg());
          r->mutable_fix()->set_lon_deg(p.lon_deg());
          r->mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
          r->mutable_fix()->set_speed_mps(10);
        }
        std::string subject;
        if ((batch_no++ * args.vehicles + v) % panic_every == 0) {
          cit::v1::Record* r = batch->add_records();
          r->set_seq(++seq);
          *r->mutable_event_time() = batch->records(0).event_time();
          subject = "p" + std::to_string(panic_counter.fetch_add(1));
          r->mutable_panic()->set_source(subject);
        }
        if (!subject.empty()) {
          std::lock_guard<std::mutex> lock(mu);
          sent[subject] = Clock::now();
        }
        if (!rw->Write(msg)) break;
        fixes_sent += fixes_per_batch;
        next += std::chrono::milliseconds(1000 / kBatchesPerSecond);
        std::this_thread::sleep_until(next);
      }
      rw->WritesDone();
      ctx.TryCancel();
      acks.join();
      rw->Finish().IgnoreError();
    });
  }
  const auto start = Clock::now();
  // Server-side view: the AlertManager's record-to-alert histogram (ingest received the record
  // -> alert event published to the WatchAlerts streams), counted from the end of the warm-up.
  Histogram& server_hist = builder.metrics().GetHistogram("cit_record_to_alert_seconds", "", {});
  std::this_thread::sleep_until(bench_start + std::chrono::duration<double>(args.warmup_s));
  std::vector<uint64_t> warm(server_hist.bounds().size() + 1);
  for (size_t i = 0; i < warm.size(); ++i) warm[i] = server_hist.bucket(i);
  std::this_thread::sleep_until(start + std::chrono::seconds(args.seconds));
  stop = true;
  for (auto& t : agents) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  watch_ctx.TryCancel();
  watcher.join();
  reader->Finish().IgnoreError();
  (*server)->Shutdown();
  (*rm)->Stop();

  std::vector<double> l;
  {
    std::lock_guard<std::mutex> lock(mu);
    l = latencies_us;
  }
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) {
    return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))];
  };
  std::printf(
      "fixes sent %llu in %.1f s = %.0f fixes/s, %d vehicles, durability %s\n"
      "client-side batch written->alert read, %zu alerts (after %.1f s warm-up): p50 %.0f us, p90 "
      "%.0f us, p99 %.0f us, max %.0f us\n",
      static_cast<unsigned long long>(fixes_sent.load()), elapsed, fixes_sent.load() / elapsed,
      args.vehicles, args.full_durability ? "full" : "normal", l.size(), args.warmup_s, pct(0.5),
      pct(0.9), pct(0.99), l.empty() ? 0.0 : l.back());
  {
    std::vector<uint64_t> n(warm.size());
    uint64_t total = 0;
    for (size_t i = 0; i < n.size(); ++i) total += n[i] = server_hist.bucket(i) - warm[i];
    auto bound = [&](double p) {
      uint64_t seen = 0;
      for (size_t i = 0; i < n.size(); ++i) {
        seen += n[i];
        if (total > 0 && seen >= p * static_cast<double>(total)) {
          return i < server_hist.bounds().size() ? server_hist.bounds()[i] * 1e6 : INFINITY;
        }
      }
      return 0.0;
    };
    std::printf(
        "server-side record->alert published, %llu alerts (bucket bounds, 25%% resolution): "
        "p50 <= %.0f us, p90 <= %.0f us, p99 <= %.0f us\n",
        static_cast<unsigned long long>(total), bound(0.5), bound(0.9), bound(0.99));
    std::printf("alert events published in all: %llu\n",
                static_cast<unsigned long long>(
                    builder.metrics().GetCounter("cit_alert_events_total", "").value()));
  }
  std::sort(worst.begin(), worst.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  std::printf("slowest:");
  for (size_t i = 0; i < worst.size() && i < 8; ++i) {
    std::printf(" %.0f us at %.2f s;", worst[i].second, worst[i].first);
  }
  std::printf("\n");
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace cit::dispatch

int main(int argc, char** argv) { return cit::dispatch::Run(cit::dispatch::Parse(argc, argv)); }
