// The server that scenario tests drive, and the real drives they replay (scenario_test.cc,
// rule_correctness_scenario_test.cc). Records go in over Telemetry.Stream (loopback gRPC, real
// ingest, a real store), plans through the Dispatch service, alerts come out of WatchAlerts and
// ListAlerts. Every scenario runs on both store backends (test parameter "sqlite" or
// "postgresql": records, runs, alerts and monitor snapshots in a fresh database of the process's
// PostgreSQL, tests/support/postgres_server.h). The Munich drive ships in tests/data
// (ATTRIBUTION.md there); the Kubicka drives may not ship, so their scenarios are skipped, naming
// the files, without them. The monitor runs on a FakeClock so deadlines and the coverage gap are
// exact; the ingest keeps its real clock.
//
//   TEST_P(ScenarioTest, X) { Replay(MunichTrack(), route, 40, clock_.Now() - ...); }
//   INSTANTIATE_TEST_SUITE_P(Backends, ScenarioTest, ::testing::Values("sqlite", "postgresql"),
//                            cit::dispatch::test::BackendName);
//
// Thread contract: test code; Watcher reads its stream on its own thread.
#ifndef CIT_TESTS_DISPATCH_SCENARIO_FIXTURE_H_
#define CIT_TESTS_DISPATCH_SCENARIO_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/run_monitoring.h"
#include "tests/dispatch/loopback_server_options.h"
#include "tests/dispatch/store_backends.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/real_drives.h"
#include "tests/support/test_env.h"

namespace cit::dispatch::scenario {

using cit::test::TelemetryTestClient;

// ---- real data (tests/support/real_drives.h) ---------------------------------------------------

using cit::test::KubickaTrack;
using cit::test::MunichTrack;
using cit::test::TracePoint;
#define SKIP_WITHOUT_KUBICKA(id) CIT_SKIP_WITHOUT_KUBICKA(id)

// A Kubicka drive's ground-truth route as plan positions.
inline std::vector<cit::v1::Position> KubickaRoute(const std::string& id) {
  std::vector<cit::v1::Position> out;
  for (const cit::test::LatLon& p : cit::test::KubickaRoute(id)) {
    cit::v1::Position pos;
    pos.set_lat_deg(p.lat_deg);
    pos.set_lon_deg(p.lon_deg);
    out.push_back(pos);
  }
  return out;
}

// Stop zones where a trace stands still for 2 minutes or more (its depot, and places it waits):
// in a run plan those are scheduled stops. Kubicka 00000010 stands ~5 and ~11 minutes at one
// place mid-drive, 00000016 ~5.5 minutes at its start; without a stop there, UNSCHEDULED_STOP
// would be the right answer.
inline std::vector<cit::v1::Stop> StandstillStops(const std::vector<TracePoint>& track) {
  std::vector<cit::v1::Stop> out;
  for (const cit::test::Standstill& stand : cit::test::Standstills(track, 30, 120)) {
    cit::v1::Stop s;
    s.set_stop_id("W" + std::to_string(out.size() + 1));
    s.mutable_position()->set_lon_deg(track[stand.first].lon_deg);
    s.mutable_position()->set_lat_deg(track[stand.first].lat_deg);
    s.set_radius_m(60);
    out.push_back(s);
  }
  return out;
}

// ---- the server ------------------------------------------------------------------------------

class ScenarioTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (db_.pg()) {
      ASSERT_FALSE(db_.conninfo().empty()) << "no PostgreSQL database";
    }
    DispatchServerOptions o = test::LoopbackServerOptions(db_);
    RunMonitoringOptions rmo = test::LoopbackMonitoringOptions(db_);
    rmo.monitor.backfill_threshold_s = 30;
    auto rm = RunMonitoring::Open(rmo, &clock_);
    ASSERT_TRUE(rm.ok()) << rm.status();
    rm_ = std::move(*rm);
    DispatchServer::Builder b(o);
    rm_->Register(b);
    auto server = b.Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    rm_->Start();
    op_channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->operator_port()),
                                      grpc::InsecureChannelCredentials());
    dispatch_ = cit::v1::Dispatch::NewStub(op_channel_);
    alerts_ = cit::v1::Alerts::NewStub(op_channel_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    if (rm_) rm_->Stop();
  }

  std::shared_ptr<grpc::Channel> TelemetryChannel() {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->telemetry_port()),
                               grpc::InsecureChannelCredentials());
  }

  void CreateAndDispatch(const cit::v1::RunPlan& plan) {
    grpc::ClientContext c1, c2;
    cit::v1::CreateRunRequest req;
    *req.mutable_plan() = plan;
    cit::v1::Run run;
    grpc::Status s = dispatch_->CreateRun(&c1, req, &run);
    ASSERT_TRUE(s.ok()) << s.error_message();
    cit::v1::DispatchRunRequest d;
    d.set_run_id(plan.run_id());
    s = dispatch_->DispatchRun(&c2, d, &run);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(run.state(), cit::v1::RUN_STATE_DISPATCHED);
  }

  // Sends records (seq assigned here) and waits until the monitor evaluated them.
  void Send(TelemetryTestClient& agent, std::vector<cit::v1::Record> records) {
    const uint64_t before = rm_->monitor().records_processed();
    for (size_t i = 0; i < records.size(); i += 500) {
      cit::v1::RecordBatch b;
      for (size_t j = i; j < std::min(records.size(), i + 500); ++j) {
        records[j].set_seq(++seq_);
        *b.add_records() = records[j];
      }
      ASSERT_TRUE(agent.Send(b));
    }
    ASSERT_TRUE(agent.WaitAck(seq_));
    ASSERT_TRUE(cit::test::WaitFor(
        [&] { return rm_->monitor().records_processed() >= before + records.size(); }));
    rm_->monitor().Flush();
  }

  cit::v1::Record FixAt(double lon, double lat, SysTime t, std::optional<double> speed = {}) {
    cit::v1::Record r;
    r.set_vehicle_id(vehicle_);
    *r.mutable_event_time() = ToProto(t);
    *r.mutable_agent_time() = ToProto(t);
    r.mutable_fix()->set_lon_deg(lon);
    r.mutable_fix()->set_lat_deg(lat);
    r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    if (speed) r.mutable_fix()->set_speed_mps(*speed);
    return r;
  }

  std::vector<cit::v1::Alert> ListAlerts(cit::v1::AlertKind kind) {
    grpc::ClientContext c;
    cit::v1::ListAlertsRequest req;
    cit::v1::ListAlertsResponse resp;
    EXPECT_TRUE(alerts_->ListAlerts(&c, req, &resp).ok());
    std::vector<cit::v1::Alert> out;
    for (const auto& a : resp.alerts()) {
      if (kind == cit::v1::ALERT_KIND_UNSPECIFIED || a.kind() == kind) out.push_back(a);
    }
    return out;
  }

  // Replays a trace against a plan whose route is `route`; event times start at `base`.
  void Replay(const std::vector<TracePoint>& track, const std::vector<cit::v1::Position>& route,
              double half_width_m, SysTime base) {
    cit::v1::RunPlan plan;
    for (const cit::v1::Stop& s : StandstillStops(track)) *plan.add_stops() = s;
    plan.set_run_id("R-" + vehicle_);
    plan.set_vehicle_id(vehicle_);
    for (const auto& p : route) *plan.mutable_route()->add_points() = p;
    plan.mutable_route()->set_corridor_half_width_m(half_width_m);
    CreateAndDispatch(plan);
    TelemetryTestClient agent(TelemetryChannel());
    ASSERT_GE(agent.Hello(vehicle_), 0);
    std::vector<cit::v1::Record> records;
    for (const TracePoint& p : track) {
      records.push_back(FixAt(p.lon_deg, p.lat_deg, base + FromSeconds(p.t_s)));
    }
    // The trace ends just before the monitor's clock: it arrives as one backlog.
    clock_.Set(std::max(clock_.Now(), base + FromSeconds(track.back().t_s + 1)));
    Send(agent, std::move(records));
  }

  test::BackendDb db_{GetParam()};  // its dir() holds the SQLite file (and the audit ledger)
  FakeClock clock_{FromUnixSeconds(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count())};
  std::unique_ptr<RunMonitoring> rm_;
  std::unique_ptr<DispatchServer> server_;
  std::shared_ptr<grpc::Channel> op_channel_;
  std::unique_ptr<cit::v1::Dispatch::Stub> dispatch_;
  std::unique_ptr<cit::v1::Alerts::Stub> alerts_;
  std::string vehicle_ = "CIT-1";
  uint64_t seq_ = 0;
};

// A WatchAlerts stream read on its own thread.
class Watcher {
 public:
  Watcher(cit::v1::Alerts::Stub& stub, uint64_t after_event_id) {
    cit::v1::WatchAlertsRequest req;
    req.set_after_event_id(after_event_id);
    reader_ = stub.WatchAlerts(&ctx_, req);
    thread_ = std::thread([this] {
      cit::v1::AlertEvent e;
      while (reader_->Read(&e)) {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(e);
      }
    });
  }
  ~Watcher() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    ctx_.TryCancel();
    thread_.join();
    reader_->Finish().IgnoreError();
  }
  std::vector<cit::v1::AlertEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<cit::v1::AlertEvent>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<cit::v1::AlertEvent> events_;
};

}  // namespace cit::dispatch::scenario

#endif  // CIT_TESTS_DISPATCH_SCENARIO_FIXTURE_H_
