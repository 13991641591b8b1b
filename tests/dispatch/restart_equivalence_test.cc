// Restart equivalence with a real drive (issue 12 §2): the Munich drive (tests/data, Apache-2.0)
// with a plan — crew check-ins at the depot, a stop with a dwell and a door opening, a detour
// off the corridor with a door opened on it, a stop reached after its window — streamed by an
// agent into the real dispatch-server binary, once without interruption and once with the
// server SIGKILLed (kill -9) during the first leg, during the stop with the door open and after
// the late stop, and restarted with SIGTERM in the middle of the detour. The alert sets (kind,
// subject, event time, severity, occurrences, cleared) and the run reports must be identical.
// An operator watch stays connected across the restarts (it resumes from its last event id): no
// event reaches it twice, every alert's every revision reaches it, none it saw is gone.
//
// The drive's event times lie in the past (the agent drains it as a backlog, as after a coverage
// gap), so the server's deadline rules see the same clock in both runs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/common/clock.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using cit::test::TelemetryTestClient;

constexpr char kVehicle[] = "CIT-1";
constexpr char kRun[] = "R-munich";

struct TracePoint {
  double lon_deg;
  double lat_deg;
  double t_s;
};

std::vector<TracePoint> MunichTrack() {
  std::ifstream in(cit::test::RepoData("traces/barefoot-munich/x0001-001.json"));
  nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<TracePoint> out;
  for (const auto& e : doc) {
    const std::string point = e.at("point");  // POINT(lon lat)
    const std::string time = e.at("time");    // 2014-09-10 06:54:07+0200
    double lon = 0, lat = 0;
    std::sscanf(point.c_str(), "POINT(%lf %lf)", &lon, &lat);
    int hh = 0, mm = 0, ss = 0;
    std::sscanf(time.c_str() + 11, "%d:%d:%d", &hh, &mm, &ss);
    out.push_back({lon, lat, hh * 3600.0 + mm * 60.0 + ss});
  }
  for (size_t i = 1; i < out.size(); ++i) out[i].t_s -= out[0].t_s;
  if (!out.empty()) out[0].t_s = 0;
  return out;
}

cit::v1::Position Pos(const TracePoint& p) {
  cit::v1::Position out;
  out.set_lon_deg(p.lon_deg);
  out.set_lat_deg(p.lat_deg);
  return out;
}

// Indices into the track.
constexpr size_t kS1 = 250;
constexpr size_t kDetourFrom = 650;
constexpr size_t kDetourTo = 700;
constexpr size_t kS2 = 850;
constexpr double kDepotWaitS = 90;
constexpr double kS1DwellS = 150;
constexpr double kS2DwellS = 60;

// The drive with its plan; times in seconds from `base`.
struct Drive {
  cit::v1::RunPlan plan;
  std::vector<cit::v1::Record> records;  // seq 1..n
  // Record indices (0-based) where the restarted run stops the server.
  size_t after_departure = 0;
  size_t door_open_at_s1 = 0;
  size_t in_detour = 0;
  size_t after_s2 = 0;
};

Drive MakeDrive(SysTime base) {
  const std::vector<TracePoint> track = MunichTrack();
  Drive d;
  auto add = [&](double t_s, cit::v1::Record r) {
    r.set_seq(d.records.size() + 1);
    *r.mutable_event_time() = ToProto(base + FromSeconds(t_s));
    *r.mutable_agent_time() = r.event_time();
    r.set_agent_monotonic_ns(static_cast<int64_t>(t_s * 1e9));
    d.records.push_back(std::move(r));
  };
  auto fix = [&](double t_s, const TracePoint& p, double north_m = 0) {
    cit::v1::Record r;
    r.mutable_fix()->set_lon_deg(p.lon_deg);
    r.mutable_fix()->set_lat_deg(p.lat_deg + north_m / 111'132.0);
    r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    add(t_s, std::move(r));
  };
  auto door = [&](double t_s, uint32_t n, bool open) {
    cit::v1::Record r;
    r.mutable_door()->set_door(n);
    r.mutable_door()->set_state(open ? cit::v1::DOOR_STATE_OPEN : cit::v1::DOOR_STATE_CLOSED);
    add(t_s, std::move(r));
  };
  auto crew = [&](double t_s, const std::string& badge) {
    cit::v1::Record r;
    r.mutable_crew()->set_badge_id(badge);
    r.mutable_crew()->set_action(cit::v1::CREW_ACTION_CHECK_IN);
    add(t_s, std::move(r));
  };

  // At the depot: the crew check in.
  for (int t = 0; t < kDepotWaitS; ++t) {
    fix(t, track[0]);
    if (t == 20) crew(t + 0.5, "B-1");
    if (t == 40) crew(t + 0.5, "B-2");
  }
  double shift = kDepotWaitS;
  double s2_arrival = 0;
  for (size_t i = 0; i < track.size(); ++i) {
    const double t = track[i].t_s + shift;
    double north = 0;  // the detour: 250 m north, ramped over 10 fixes each way
    if (i >= kDetourFrom && i < kDetourTo) {
      north = 250.0 * std::min({1.0, (i - kDetourFrom + 1) / 10.0, (kDetourTo - i) / 10.0});
    }
    fix(t, track[i], north);
    if (i == kDetourFrom + 20) {
      door(t + 0.5, 2, true);
      d.in_detour = d.records.size() + 3;
    }
    if (i == kDetourFrom + 25) door(t + 0.5, 2, false);
    if (i == 30) d.after_departure = d.records.size();
    if (i == kS1) {
      for (int k = 1; k <= kS1DwellS; ++k) {
        fix(t + k, track[i]);
        if (k == 30) {
          door(t + k + 0.5, 1, true);
          d.door_open_at_s1 = d.records.size() + 5;
        }
        if (k == 60) door(t + k + 0.5, 1, false);
      }
      shift += kS1DwellS;
    }
    if (i == kS2) {
      s2_arrival = t;
      for (int k = 1; k <= kS2DwellS; ++k) fix(t + k, track[i]);
      shift += kS2DwellS;
      d.after_s2 = d.records.size() + 40;
    }
  }

  cit::v1::RunPlan& plan = d.plan;
  plan.set_run_id(kRun);
  plan.set_vehicle_id(kVehicle);
  for (size_t i = 0; i < track.size(); i += 10) *plan.mutable_route()->add_points() = Pos(track[i]);
  *plan.mutable_route()->add_points() = Pos(track.back());
  plan.mutable_route()->set_corridor_half_width_m(40);
  auto stop = [&](const std::string& id, const TracePoint& p) {
    cit::v1::Stop* s = plan.add_stops();
    s->set_stop_id(id);
    *s->mutable_position() = Pos(p);
    s->set_radius_m(60);
    return s;
  };
  stop("D", track[0]);
  cit::v1::Stop* s1 = stop("S1", track[kS1]);
  s1->set_doors_may_open(true);
  s1->set_crew_check_in_required(true);
  s1->set_max_dwell_s(120);
  *s1->mutable_arrival_latest() = ToProto(base + FromSeconds(4 * 3600));
  cit::v1::Stop* s2 = stop("S2", track[kS2]);
  *s2->mutable_arrival_latest() = ToProto(base + FromSeconds(s2_arrival - 120));
  stop("S3", track.back());
  return d;
}

// The real binary on a database in `dir`; plaintext (--insecure-dev), vehicle id from Hello.
class Server {
 public:
  Server(const cit::test::TempDir& dir, int telemetry_port, int operator_port, int n)
      : process_({cit::test::BuiltProgram("dispatch-server/dispatch-server").string(),
                  "--insecure-dev", "--database", (dir / "dispatch.db").string(),
                  "--telemetry-listen", "127.0.0.1:" + std::to_string(telemetry_port),
                  "--operator-listen", "127.0.0.1:" + std::to_string(operator_port),
                  "--metrics-listen", "", "--http-listen", ""},
                 dir / ("server-" + std::to_string(n) + ".log")) {}
  cit::test::Process& process() { return process_; }

 private:
  cit::test::Process process_;
};

// WatchAlerts kept connected across restarts: resumes after the last event id it received.
class ResumingWatcher {
 public:
  explicit ResumingWatcher(int operator_port) : port_(operator_port) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ResumingWatcher() { Stop(); }
  void Stop() {
    stop_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    if (thread_.joinable()) thread_.join();
  }
  std::vector<cit::v1::AlertEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  size_t connections() const { return connections_.load(); }

 private:
  void Loop() {
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                       grpc::InsecureChannelCredentials());
    auto stub = cit::v1::Alerts::NewStub(channel);
    while (!stop_) {
      grpc::ClientContext ctx;
      cit::v1::WatchAlertsRequest req;
      {
        std::lock_guard<std::mutex> lock(mu_);
        req.set_after_event_id(last_event_id_);
        ctx_ = &ctx;
      }
      if (stop_) break;
      auto reader = stub->WatchAlerts(&ctx, req);
      cit::v1::AlertEvent e;
      bool got_any = false;
      while (reader->Read(&e)) {
        got_any = true;
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(e);
        last_event_id_ = std::max(last_event_id_, e.event_id());
      }
      reader->Finish().IgnoreError();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ctx_ = nullptr;
      }
      if (got_any) ++connections_;
      // The server is down: try again once it answers (no fixed sleep: wait for the channel).
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    }
  }

  int port_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> connections_{0};
  std::mutex mu_;
  grpc::ClientContext* ctx_ = nullptr;
  uint64_t last_event_id_ = 0;
  std::vector<cit::v1::AlertEvent> events_;
};

enum class Stop { kKill, kTerm };

struct Outcome {
  std::vector<cit::v1::Alert> alerts;
  cit::v1::RunReport report;
  std::vector<cit::v1::AlertEvent> watched;
};

// Plans, dispatches and streams the drive; before record index i in `stops` the server is
// stopped that way and started again, and the agent resumes from the server's watermark.
Outcome RunDrive(const Drive& drive, const std::map<size_t, Stop>& stops) {
  cit::test::TempDir dir;
  const int telemetry_port = cit::test::FreeTcpPort();
  const int operator_port = cit::test::FreeTcpPort();
  int generation = 0;
  auto server = std::make_unique<Server>(dir, telemetry_port, operator_port, generation);
  auto op_channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(operator_port),
                                        grpc::InsecureChannelCredentials());
  auto wait_up = [&] {
    auto fresh = grpc::CreateChannel("127.0.0.1:" + std::to_string(operator_port),
                                     grpc::InsecureChannelCredentials());
    EXPECT_TRUE(
        fresh->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)))
        << cit::test::ReadFile(dir / ("server-" + std::to_string(generation) + ".log"));
  };
  wait_up();
  auto dispatch = cit::v1::Dispatch::NewStub(op_channel);
  auto alerts = cit::v1::Alerts::NewStub(op_channel);
  {
    grpc::ClientContext c1, c2;
    cit::v1::CreateRunRequest create;
    *create.mutable_plan() = drive.plan;
    create.set_allow_unknown_vehicle(true);  // the truck connects after its run is planned
    cit::v1::Run run;
    grpc::Status s = dispatch->CreateRun(&c1, create, &run);
    EXPECT_TRUE(s.ok()) << s.error_message();
    cit::v1::DispatchRunRequest d;
    d.set_run_id(kRun);
    s = dispatch->DispatchRun(&c2, d, &run);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  ResumingWatcher watcher(operator_port);

  auto tchannel = [&] {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(telemetry_port),
                               grpc::InsecureChannelCredentials());
  };
  auto agent = std::make_unique<TelemetryTestClient>(tchannel());
  EXPECT_GE(agent->Hello(kVehicle, 1), 0);
  size_t next = 0;  // index of the next record to send
  const size_t n = drive.records.size();
  std::set<size_t> done;
  while (next < n) {
    // Up to the next stop point (or 50 records).
    size_t end = std::min(n, next + 50);
    auto stop = stops.lower_bound(next);
    if (stop != stops.end() && done.count(stop->first) != 0) ++stop;
    if (stop != stops.end() && stop->first < end) end = stop->first;
    if (end > next) {
      cit::v1::RecordBatch batch;
      for (size_t i = next; i < end; ++i) *batch.add_records() = drive.records[i];
      EXPECT_TRUE(agent->Send(batch));
      EXPECT_TRUE(agent->WaitAck(end)) << "seq " << end;
      next = end;
    }
    if (stop != stops.end() && stop->first == next) {
      done.insert(next);
      agent.reset();
      if (stop->second == Stop::kKill) {
        server->process().Kill();
      } else {
        server->process().Signal(SIGTERM);
        EXPECT_EQ(server->process().WaitExit(std::chrono::seconds(20)), 0);
      }
      server.reset();
      server = std::make_unique<Server>(dir, telemetry_port, operator_port, ++generation);
      wait_up();
      // The agent reconnects once the new process answers (each try on a fresh channel).
      int64_t stored = -1;
      EXPECT_TRUE(cit::test::WaitFor(
          [&] {
            agent = std::make_unique<TelemetryTestClient>(tchannel());
            stored = agent->Hello(kVehicle, next + 1);
            return stored >= 0;
          },
          std::chrono::seconds(20)));
      EXPECT_GE(stored, static_cast<int64_t>(next)) << "an acknowledged record was lost";
      if (stored < static_cast<int64_t>(next)) break;
      next = static_cast<size_t>(stored);
    }
  }
  // Everything evaluated: the fleet view shows the last fix.
  const SysTime last_fix = FromProto(drive.records.back().event_time());
  EXPECT_TRUE(cit::test::WaitFor(
      [&] {
        grpc::ClientContext c;
        cit::v1::GetFleetRequest req;
        cit::v1::Fleet fleet;
        if (!dispatch->GetFleet(&c, req, &fleet).ok()) return false;
        for (const auto& v : fleet.vehicles()) {
          if (v.vehicle_id() == kVehicle && v.has_last_fix_time() &&
              FromProto(v.last_fix_time()) == last_fix) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(30)));
  Outcome out;
  {
    grpc::ClientContext c;
    cit::v1::ListAlertsRequest req;
    cit::v1::ListAlertsResponse resp;
    EXPECT_TRUE(alerts->ListAlerts(&c, req, &resp).ok());
    out.alerts.assign(resp.alerts().begin(), resp.alerts().end());
  }
  {
    auto audit = cit::v1::Audit::NewStub(op_channel);
    grpc::ClientContext c;
    cit::v1::RunReportRequest req;
    req.set_run_id(kRun);
    grpc::Status s = audit->GetRunReport(&c, req, &out.report);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  // The watcher has every event of every listed alert (it may lag a moment).
  EXPECT_TRUE(cit::test::WaitFor([&] {
    std::map<uint64_t, uint32_t> seen;
    for (const auto& e : watcher.events()) {
      seen[e.alert().alert_id()] = std::max(seen[e.alert().alert_id()], e.alert().revision());
    }
    for (const auto& a : out.alerts) {
      if (seen[a.alert_id()] < a.revision()) return false;
    }
    return true;
  }));
  watcher.Stop();
  out.watched = watcher.events();
  server->process().Signal(SIGTERM);
  EXPECT_EQ(server->process().WaitExit(std::chrono::seconds(20)), 0);
  if (::testing::Test::HasFailure()) {
    for (int g = 0; g <= generation; ++g) {
      const std::string log = cit::test::ReadFile(dir / ("server-" + std::to_string(g) + ".log"));
      std::cerr << "---- server " << g << " (last 3000 bytes)\n"
                << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
    }
  }
  return out;
}

using AlertKey = std::tuple<int, std::string, int64_t, int, uint32_t, bool>;
std::multiset<AlertKey> Keys(const std::vector<cit::v1::Alert>& alerts) {
  std::multiset<AlertKey> out;
  for (const auto& a : alerts) {
    out.emplace(a.kind(), a.subject(), FromProto(a.event_time()).time_since_epoch().count(),
                a.severity(), a.occurrences(), a.has_condition_cleared_time());
  }
  return out;
}
std::string Describe(const std::vector<cit::v1::Alert>& alerts) {
  std::string out;
  for (const auto& a : alerts) {
    out += cit::v1::AlertKind_Name(a.kind()) + " [" + a.subject() + "] sev " +
           std::to_string(a.severity()) + " occ " + std::to_string(a.occurrences()) + " rev " +
           std::to_string(a.revision()) + ": " + a.details() + "\n";
  }
  return out;
}

// The report without what differs by construction (the run's server-side times and ids).
cit::v1::RunReport Comparable(cit::v1::RunReport r) {
  r.clear_run();
  r.clear_alerts();
  return r;
}

TEST(RestartEquivalenceTest, MunichDriveWithKillsAndATermRestartGivesTheUninterruptedAlerts) {
  const auto track = MunichTrack();
  ASSERT_GT(track.size(), kS2 + 100);
  const SysTime base =
      FromUnixSeconds(std::floor(ToUnixSeconds(SystemClock().Now()))) - FromSeconds(1800);
  const Drive drive = MakeDrive(base);

  const Outcome reference = RunDrive(drive, {});
  const Outcome restarted = RunDrive(drive, {{drive.after_departure, Stop::kKill},
                                             {drive.door_open_at_s1, Stop::kKill},
                                             {drive.in_detour, Stop::kTerm},
                                             {drive.after_s2, Stop::kKill}});
  // The drive raises what it was built to raise, and no crew alert (they checked in).
  std::set<int> kinds;
  for (const auto& a : reference.alerts) kinds.insert(a.kind());
  for (cit::v1::AlertKind k :
       {cit::v1::ALERT_KIND_ROUTE_DEVIATION, cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP,
        cit::v1::ALERT_KIND_LATE_ARRIVAL, cit::v1::ALERT_KIND_DWELL_EXCEEDED}) {
    EXPECT_EQ(kinds.count(k), 1u) << cit::v1::AlertKind_Name(k) << "\n"
                                  << Describe(reference.alerts);
  }
  EXPECT_EQ(kinds.count(cit::v1::ALERT_KIND_CREW_INCOMPLETE), 0u) << Describe(reference.alerts);

  EXPECT_EQ(Keys(restarted.alerts), Keys(reference.alerts))
      << "uninterrupted:\n"
      << Describe(reference.alerts) << "restarted:\n"
      << Describe(restarted.alerts);
  EXPECT_EQ(Comparable(restarted.report).DebugString(), Comparable(reference.report).DebugString());
  EXPECT_EQ(Keys({restarted.report.alerts().begin(), restarted.report.alerts().end()}),
            Keys({reference.report.alerts().begin(), reference.report.alerts().end()}));

  // The watch: no event id twice; each alert's revisions in order without gaps. A change that
  // was published but not yet stored when the process was killed is published again after the
  // restart (same alert id and revision, same content, new event id): a repeat, not a new
  // alert. If its alert's opening was what got lost, the alert is raised again under a new id
  // (same kind, subject and event time). Nothing else may differ, and every listed alert's last
  // revision must have been delivered.
  std::set<uint64_t> ids;
  std::map<uint64_t, cit::v1::Alert> last;
  std::set<std::tuple<int, std::string, int64_t>> listed;
  std::set<uint64_t> listed_ids;
  for (const auto& a : restarted.alerts) {
    listed.emplace(a.kind(), a.subject(), FromProto(a.event_time()).time_since_epoch().count());
    listed_ids.insert(a.alert_id());
  }
  size_t repeats = 0;
  for (const auto& e : restarted.watched) {
    EXPECT_TRUE(ids.insert(e.event_id()).second) << "event " << e.event_id() << " twice";
    const cit::v1::Alert& a = e.alert();
    auto it = last.find(a.alert_id());
    const uint32_t before = it == last.end() ? 0 : it->second.revision();
    if (a.revision() <= before) {
      ++repeats;  // re-published after a kill -9: changes already seen, made again
    } else {
      EXPECT_EQ(a.revision(), before + 1) << e.DebugString();
      last[a.alert_id()] = a;
    }
    if (listed_ids.count(a.alert_id()) == 0) {
      EXPECT_EQ(listed.count(
                    {a.kind(), a.subject(), FromProto(a.event_time()).time_since_epoch().count()}),
                1u)
          << "watched alert gone: " << e.DebugString();
    }
  }
  for (const auto& a : restarted.alerts) EXPECT_EQ(last[a.alert_id()].revision(), a.revision());
  std::cerr << "watch: " << restarted.watched.size() << " events, " << repeats
            << " re-published after a kill\n";
}

}  // namespace
}  // namespace cit::dispatch
