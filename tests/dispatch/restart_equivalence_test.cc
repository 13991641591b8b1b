// Restart equivalence with real drives (issue 12 §2): each drive with a plan (crew check-ins at
// the depot, stops with a dwell and a door opening, a door opened away from any stop, a
// deviation, a stop reached after its window) is streamed by an agent into the real
// dispatch-server binary, once without interruption and once with the server SIGKILLed
// (kill -9) and restarted with SIGTERM at chosen points (a stop in progress with its door open,
// a deviation in progress) and, for the Kubicka drives, at random points (seed printed;
// CIT_TEST_SEED repeats it). The alert sets (kind, subject, event time, severity, occurrences,
// cleared) and the run reports must be identical. An operator watch stays connected across the
// restarts (it resumes from its last event id): no event reaches it twice, every alert's every
// revision reaches it, none it saw is gone.
//
// Drives: Munich (tests/data, Apache-2.0; a detour is added to it), Kubicka 00000016 against
// route 00000010 (a real deviation) and Kubicka 00000010 on its own route (real waits); the
// Kubicka drives may not ship, so those cases skip, naming the files, without ../shared/data.
// Each drive runs on SQLite and on PostgreSQL.
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
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/store/sqlite_db.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/postgres_server.h"
#include "tests/support/real_drives.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using cit::test::TelemetryTestClient;
using cit::test::TracePoint;

constexpr char kVehicle[] = "CIT-1";
constexpr char kRun[] = "R-munich";

cit::v1::Position Pos(double lat_deg, double lon_deg) {
  cit::v1::Position out;
  out.set_lon_deg(lon_deg);
  out.set_lat_deg(lat_deg);
  return out;
}
cit::v1::Position Pos(const TracePoint& p) { return Pos(p.lat_deg, p.lon_deg); }

enum class Stop { kKill, kTerm };

// A plaintext channel to a local port that retries quickly while the server restarts: gRPC's
// default reconnect backoff grows to minutes, so after a few restarts on a loaded machine a
// default channel could still be waiting out its backoff when the test looks.
std::shared_ptr<grpc::Channel> LocalChannel(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), args);
}

// A drive with its plan: the records an agent sends (seq 1..n) and where to stop the server.
struct Drive {
  std::string run_id;
  std::string vehicle_id;
  cit::v1::RunPlan plan;
  std::vector<cit::v1::Record> records;
  // Record indices (0-based) where the restarted run stops the server, and how.
  std::map<size_t, Stop> stops;
};

// Appends records with times in seconds from `base`.
class RecordWriter {
 public:
  RecordWriter(Drive& drive, SysTime base) : drive_(drive), base_(base) {}

  void Fix(double t_s, const TracePoint& p, double north_m = 0) {
    cit::v1::Record r;
    r.mutable_fix()->set_lon_deg(p.lon_deg);
    r.mutable_fix()->set_lat_deg(p.lat_deg + north_m / 111'132.0);
    r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
    Add(t_s, std::move(r));
  }
  void Door(double t_s, uint32_t n, bool open) {
    cit::v1::Record r;
    r.mutable_door()->set_door(n);
    r.mutable_door()->set_state(open ? cit::v1::DOOR_STATE_OPEN : cit::v1::DOOR_STATE_CLOSED);
    Add(t_s, std::move(r));
  }
  void CrewCheckIn(double t_s, const std::string& badge) {
    cit::v1::Record r;
    r.mutable_crew()->set_badge_id(badge);
    r.mutable_crew()->set_action(cit::v1::CREW_ACTION_CHECK_IN);
    Add(t_s, std::move(r));
  }
  // At the depot for `wait_s` seconds at 1 Hz; two crew members check in.
  void DepotWait(const TracePoint& depot, int wait_s) {
    for (int t = 0; t < wait_s; ++t) {
      Fix(t, depot);
      if (t == 20) CrewCheckIn(t + 0.5, "B-1");
      if (t == 40) CrewCheckIn(t + 0.5, "B-2");
    }
  }
  size_t size() const { return drive_.records.size(); }
  google::protobuf::Timestamp At(double t_s) const { return ToProto(base_ + FromSeconds(t_s)); }

 private:
  void Add(double t_s, cit::v1::Record r) {
    r.set_seq(drive_.records.size() + 1);
    *r.mutable_event_time() = At(t_s);
    *r.mutable_agent_time() = r.event_time();
    r.set_agent_monotonic_ns(static_cast<int64_t>(t_s * 1e9));
    drive_.records.push_back(std::move(r));
  }

  Drive& drive_;
  SysTime base_;
};

cit::v1::Stop* AddStop(cit::v1::RunPlan& plan, const std::string& id, const TracePoint& p) {
  cit::v1::Stop* s = plan.add_stops();
  s->set_stop_id(id);
  *s->mutable_position() = Pos(p);
  s->set_radius_m(60);
  return s;
}

// ---- Munich: the drive that ships -----------------------------------------------------------

// Indices into the track.
constexpr size_t kS1 = 250;
constexpr size_t kDetourFrom = 650;
constexpr size_t kDetourTo = 700;
constexpr size_t kS2 = 850;
constexpr int kDepotWaitS = 90;
constexpr double kS1DwellS = 150;
constexpr double kS2DwellS = 60;

// Crew check-ins at the depot, a stop with a dwell and a door opening, a detour off the corridor
// with a door opened on it, a stop reached after its window; the server is SIGKILLed during the
// first leg, during the stop with the door open and after the late stop, and restarted with
// SIGTERM in the middle of the detour.
Drive MakeMunichDrive(SysTime base) {
  const std::vector<TracePoint> track = cit::test::MunichTrack();
  Drive d{kRun, kVehicle, {}, {}, {}};
  RecordWriter w(d, base);
  w.DepotWait(track[0], kDepotWaitS);
  double shift = kDepotWaitS;
  double s2_arrival = 0;
  for (size_t i = 0; i < track.size(); ++i) {
    const double t = track[i].t_s + shift;
    double north = 0;  // the detour: 250 m north, ramped over 10 fixes each way
    if (i >= kDetourFrom && i < kDetourTo) {
      north = 250.0 * std::min({1.0, (i - kDetourFrom + 1) / 10.0, (kDetourTo - i) / 10.0});
    }
    w.Fix(t, track[i], north);
    if (i == kDetourFrom + 20) {
      w.Door(t + 0.5, 2, true);
      d.stops[w.size() + 3] = Stop::kTerm;
    }
    if (i == kDetourFrom + 25) w.Door(t + 0.5, 2, false);
    if (i == 30) d.stops[w.size()] = Stop::kKill;
    if (i == kS1) {
      for (int k = 1; k <= kS1DwellS; ++k) {
        w.Fix(t + k, track[i]);
        if (k == 30) {
          w.Door(t + k + 0.5, 1, true);
          d.stops[w.size() + 5] = Stop::kKill;
        }
        if (k == 60) w.Door(t + k + 0.5, 1, false);
      }
      shift += kS1DwellS;
    }
    if (i == kS2) {
      s2_arrival = t;
      for (int k = 1; k <= kS2DwellS; ++k) w.Fix(t + k, track[i]);
      shift += kS2DwellS;
      d.stops[w.size() + 40] = Stop::kKill;
    }
  }

  cit::v1::RunPlan& plan = d.plan;
  plan.set_run_id(d.run_id);
  plan.set_vehicle_id(d.vehicle_id);
  for (size_t i = 0; i < track.size(); i += 10) *plan.mutable_route()->add_points() = Pos(track[i]);
  *plan.mutable_route()->add_points() = Pos(track.back());
  plan.mutable_route()->set_corridor_half_width_m(40);
  AddStop(plan, "D", track[0]);
  cit::v1::Stop* s1 = AddStop(plan, "S1", track[kS1]);
  s1->set_doors_may_open(true);
  s1->set_crew_check_in_required(true);
  s1->set_max_dwell_s(120);
  *s1->mutable_arrival_latest() = w.At(4 * 3600);
  cit::v1::Stop* s2 = AddStop(plan, "S2", track[kS2]);
  *s2->mutable_arrival_latest() = w.At(s2_arrival - 120);
  AddStop(plan, "S3", track.back());
  return d;
}

// ---- Kubicka: real drives that may not ship ------------------------------------------------

// A Kubicka drive against a Kubicka route, built from what the trace itself does:
// - the depot: 90 s at the first fix, both crew check in;
// - every place where the trace stands still for 2 minutes is a stop where the doors may open
//   (door 1 opens 30 s after arrival for 30 s) with a 5-minute dwell limit, and the last of them
//   was due 2 minutes before the truck got there; a trace that never stands still gets a
//   150-second stop inserted at `fallback_stop_index`;
// - door 2 opens for 5 s while the truck drives at `door_away_index`, away from every stop;
// - a stop at the last fix.
// The server is stopped: SIGKILL during the first stop with its door open, SIGKILL at
// `kill_index` (pass a fix inside a deviation), and at three points drawn from `random`
// (two SIGKILLs and one SIGTERM).
struct KubickaSetup {
  std::string track_id;
  std::string route_id;
  size_t fallback_stop_index;
  size_t door_away_index;
  size_t kill_index;
};

Drive MakeKubickaDrive(const KubickaSetup& k, SysTime base, std::mt19937_64& random) {
  const std::vector<TracePoint> track = cit::test::KubickaTrack(k.track_id);
  std::vector<cit::test::Standstill> waits = cit::test::Standstills(track);
  if (!waits.empty() && waits.front().first == 0) waits.erase(waits.begin());  // the depot
  // Waits at one place (Kubicka 10 waits ~5 and ~11 minutes at the same corner) are one stop.
  for (size_t s = 1; s < waits.size();) {
    if (cit::test::DistanceM(track[waits[s - 1].first], track[waits[s].first]) < 100) {
      waits.erase(waits.begin() + static_cast<std::ptrdiff_t>(s));
    } else {
      ++s;
    }
  }
  const bool inserted = waits.empty();
  if (inserted) waits.push_back({k.fallback_stop_index, k.fallback_stop_index});
  constexpr size_t kInsertedDwellS = 150;

  Drive d{"R-kubicka-" + k.track_id + "-on-" + k.route_id, "CIT-K" + k.track_id, {}, {}, {}};
  RecordWriter w(d, base);
  w.DepotWait(track[0], kDepotWaitS);
  double shift = kDepotWaitS;
  std::vector<double> arrivals;
  // Door 1 at the first stop: open 30 s after arrival for 30 s; the server is killed while it
  // is open (the stop in progress).
  auto door_at_stop = [&](size_t seconds_into_stop, double t) {
    if (seconds_into_stop == 30) w.Door(t + 0.5, 1, true);
    if (seconds_into_stop == 60) {
      w.Door(t + 0.5, 1, false);
      d.stops[w.size() - 10] = Stop::kKill;
    }
  };
  for (size_t i = 0; i < track.size(); ++i) {
    const double t = track[i].t_s - track[0].t_s + shift;
    w.Fix(t, track[i]);
    if (i == k.door_away_index) w.Door(t + 0.5, 2, true);
    if (i == k.door_away_index + 5) w.Door(t + 0.5, 2, false);
    if (i == k.kill_index) d.stops[w.size()] = Stop::kKill;
    if (!inserted && i >= waits.front().first) door_at_stop(i - waits.front().first, t);
    for (const auto& stand : waits) {
      if (i != stand.first) continue;
      arrivals.push_back(t);
      if (!inserted) continue;
      for (size_t s = 1; s <= kInsertedDwellS; ++s) {
        w.Fix(t + s, track[i]);
        door_at_stop(s, t + s);
      }
      shift += kInsertedDwellS;
    }
  }

  cit::v1::RunPlan& plan = d.plan;
  plan.set_run_id(d.run_id);
  plan.set_vehicle_id(d.vehicle_id);
  for (const auto& p : cit::test::KubickaRoute(k.route_id)) {
    *plan.mutable_route()->add_points() = Pos(p.lat_deg, p.lon_deg);
  }
  plan.mutable_route()->set_corridor_half_width_m(38);  // the drives stay within ~32 m
  AddStop(plan, "D", track[0]);
  for (size_t s = 0; s < waits.size(); ++s) {
    cit::v1::Stop* stop = AddStop(plan, "W" + std::to_string(s + 1), track[waits[s].first]);
    stop->set_doors_may_open(true);
    stop->set_crew_check_in_required(true);
    stop->set_max_dwell_s(300);
    if (s + 1 == waits.size()) *stop->mutable_arrival_latest() = w.At(arrivals[s] - 120);
  }
  AddStop(plan, "E", track.back());

  const size_t n = d.records.size();
  std::uniform_int_distribution<size_t> anywhere(1, n - 1);
  d.stops.emplace(anywhere(random), Stop::kKill);
  d.stops.emplace(anywhere(random), Stop::kKill);
  d.stops.emplace(anywhere(random), Stop::kTerm);
  return d;
}

// ---- the server ---------------------------------------------------------------------------

// The real binary on a database in `dir`; plaintext (--insecure-dev), vehicle id from Hello.
// With `pg_conninfo`, [store] backend = "postgresql" on that database (a config file in `dir`).
class Server {
 public:
  Server(const cit::test::TempDir& dir, int telemetry_port, int operator_port, int n,
         const std::string& pg_conninfo = "")
      : process_(Argv(dir, telemetry_port, operator_port, pg_conninfo),
                 dir / ("server-" + std::to_string(n) + ".log")) {}
  cit::test::Process& process() { return process_; }

 private:
  static std::vector<std::string> Argv(const cit::test::TempDir& dir, int telemetry_port,
                                       int operator_port, const std::string& pg_conninfo) {
    std::vector<std::string> argv = {
        cit::test::BuiltProgram("dispatch-server/dispatch-server").string(),
        "--insecure-dev",
        "--database",
        (dir / "dispatch.db").string(),
        "--telemetry-listen",
        "127.0.0.1:" + std::to_string(telemetry_port),
        "--operator-listen",
        "127.0.0.1:" + std::to_string(operator_port),
        "--metrics-listen",
        "",
        "--http-listen",
        ""};
    if (!pg_conninfo.empty()) {
      const std::filesystem::path config = dir / "server.toml";
      std::ofstream(config) << "[store]\nbackend = \"postgresql\"\nconnection = \"" << pg_conninfo
                            << "\"\n";
      argv.insert(argv.end(), {"--config", config.string()});
    }
    return argv;
  }

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
    auto channel = LocalChannel(port_);
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

struct Outcome {
  std::vector<cit::v1::Alert> alerts;
  cit::v1::RunReport report;
  std::vector<cit::v1::AlertEvent> watched;
  // PostgreSQL runs: rows per table in the database, and the tables of the SQLite file.
  std::map<std::string, int64_t> pg_rows;
  std::set<std::string> sqlite_tables;
  // audit verify of the run and of the vehicle, at the end.
  grpc::Status verify_run;
  cit::v1::VerifyChainResponse run_chain;
  grpc::Status verify_vehicle;
  cit::v1::VerifyChainResponse vehicle_chain;
};

// Where a PostgreSQL run's data went: rows of the PostgreSQL tables, tables of the SQLite file.
void RecordWhereDataLives(const std::string& pg_conninfo, const std::filesystem::path& sqlite_path,
                          Outcome& out) {
  pqxx::connection c(pg_conninfo);
  pqxx::read_transaction t(c);
  for (const char* table : {"records", "runs", "plan_events", "alerts", "alert_events"}) {
    out.pg_rows[table] = t.exec1(std::string("SELECT COUNT(*) FROM ") + table)[0].as<int64_t>();
  }
  auto db = sqlite::Database::Open(sqlite_path);
  ASSERT_TRUE(db.ok()) << db.status();
  auto q = (*db)->Prepare("SELECT name FROM sqlite_master WHERE type = 'table'");
  ASSERT_TRUE(q.ok());
  while (*q->Step()) out.sqlite_tables.insert(q->ColumnText(0));
}

// Plans, dispatches and streams the drive; when `interrupted`, before record index i in
// `drive.stops` the server is stopped that way and started again, and the agent resumes from
// the server's watermark.
Outcome RunDrive(const Drive& drive, bool interrupted, const std::string& pg_conninfo = "") {
  const std::map<size_t, Stop> none;
  const std::map<size_t, Stop>& stops = interrupted ? drive.stops : none;
  cit::test::TempDir dir;
  const int telemetry_port = cit::test::FreeTcpPort();
  const int operator_port = cit::test::FreeTcpPort();
  int generation = 0;
  auto server =
      std::make_unique<Server>(dir, telemetry_port, operator_port, generation, pg_conninfo);
  auto op_channel = LocalChannel(operator_port);
  // Generous waits: a loaded 2-core CI machine can take many seconds to start the process.
  auto wait_up = [&] {
    auto fresh = LocalChannel(operator_port);
    EXPECT_TRUE(
        fresh->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(60)))
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
    d.set_run_id(drive.run_id);
    s = dispatch->DispatchRun(&c2, d, &run);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  ResumingWatcher watcher(operator_port);

  auto tchannel = [&] { return LocalChannel(telemetry_port); };
  auto agent = std::make_unique<TelemetryTestClient>(tchannel());
  EXPECT_GE(agent->Hello(drive.vehicle_id, 1), 0);
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
      server =
          std::make_unique<Server>(dir, telemetry_port, operator_port, ++generation, pg_conninfo);
      wait_up();
      // The agent reconnects once the new process answers (each try on a fresh channel).
      int64_t stored = -1;
      EXPECT_TRUE(cit::test::WaitFor(
          [&] {
            agent = std::make_unique<TelemetryTestClient>(tchannel());
            stored = agent->Hello(drive.vehicle_id, next + 1);
            return stored >= 0;
          },
          std::chrono::seconds(60)));
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
          if (v.vehicle_id() == drive.vehicle_id && v.has_last_fix_time() &&
              FromProto(v.last_fix_time()) == last_fix) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(60)));
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
    req.set_run_id(drive.run_id);
    grpc::Status s = audit->GetRunReport(&c, req, &out.report);
    EXPECT_TRUE(s.ok()) << s.error_message();
    grpc::ClientContext run_ctx, vehicle_ctx;
    cit::v1::VerifyChainRequest by_run, by_vehicle;
    by_run.set_run_id(drive.run_id);
    out.verify_run = audit->VerifyChain(&run_ctx, by_run, &out.run_chain);
    by_vehicle.set_vehicle_id(drive.vehicle_id);
    out.verify_vehicle = audit->VerifyChain(&vehicle_ctx, by_vehicle, &out.vehicle_chain);
  }
  // The watcher has every event of every listed alert (it may lag a moment: on a loaded machine it
  // may still be reconnecting after the last restart).
  EXPECT_TRUE(cit::test::WaitFor(
      [&] {
        std::map<uint64_t, uint32_t> seen;
        for (const auto& e : watcher.events()) {
          seen[e.alert().alert_id()] = std::max(seen[e.alert().alert_id()], e.alert().revision());
        }
        for (const auto& a : out.alerts) {
          if (seen[a.alert_id()] < a.revision()) return false;
        }
        return true;
      },
      std::chrono::seconds(60)));
  watcher.Stop();
  out.watched = watcher.events();
  // Close every connection first: a gRPC server's graceful shutdown waits (up to its grace) for
  // each idle client connection to answer its GOAWAY ping, and an idle test client answers
  // nothing while no call of it is running.
  agent.reset();
  dispatch.reset();
  alerts.reset();
  op_channel.reset();
  server->process().Signal(SIGTERM);
  EXPECT_EQ(server->process().WaitExit(std::chrono::seconds(20)), 0);
  if (!pg_conninfo.empty()) RecordWhereDataLives(pg_conninfo, dir / "dispatch.db", out);
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

// The alert sets and the run reports of the two runs are identical.
void ExpectSameAlertsAndReport(const Outcome& reference, const Outcome& restarted) {
  EXPECT_EQ(Keys(restarted.alerts), Keys(reference.alerts))
      << "uninterrupted:\n"
      << Describe(reference.alerts) << "restarted:\n"
      << Describe(restarted.alerts);
  EXPECT_EQ(Comparable(restarted.report).DebugString(), Comparable(reference.report).DebugString());
  EXPECT_EQ(Keys({restarted.report.alerts().begin(), restarted.report.alerts().end()}),
            Keys({reference.report.alerts().begin(), reference.report.alerts().end()}));
}

// The watch across the restarts: no event id twice; each alert's revisions in order without
// gaps. A change that was published but not yet stored when the process was killed is published
// again after the restart (same alert id and revision, same content, new event id): a repeat,
// not a new alert. If its alert's opening was what got lost, the alert is raised again under a
// new id (same kind, subject and event time). Nothing else may differ, and every listed alert's
// last revision must have been delivered.
void ExpectWatchSawEveryChangeOnce(const Outcome& restarted) {
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

void ExpectKinds(const Outcome& reference, const std::vector<cit::v1::AlertKind>& present,
                 const std::vector<cit::v1::AlertKind>& absent) {
  std::set<int> kinds;
  for (const auto& a : reference.alerts) kinds.insert(a.kind());
  for (cit::v1::AlertKind k : present) {
    EXPECT_EQ(kinds.count(k), 1u) << "no " << cit::v1::AlertKind_Name(k) << " in\n"
                                  << Describe(reference.alerts);
  }
  for (cit::v1::AlertKind k : absent) {
    EXPECT_EQ(kinds.count(k), 0u) << cit::v1::AlertKind_Name(k) << " in\n"
                                  << Describe(reference.alerts);
  }
}

// Event times in the past (the agent drains the drive as a backlog), whole seconds.
SysTime BaseBefore(double drive_s) {
  return FromUnixSeconds(std::floor(ToUnixSeconds(SystemClock().Now()))) -
         FromSeconds(drive_s + 300);
}

std::string Describe(const std::map<size_t, Stop>& stops) {
  std::string out;
  for (const auto& [index, how] : stops) {
    out += (how == Stop::kKill ? " kill -9 before record " : " SIGTERM before record ") +
           std::to_string(index);
  }
  return out;
}

// The Munich drive raises what it was built to raise, and no crew alert (they checked in); the
// restarted run raises the same, and its watch saw every change once.
void ExpectMunichOutcome(const Outcome& reference, const Outcome& restarted) {
  ExpectKinds(reference,
              {cit::v1::ALERT_KIND_ROUTE_DEVIATION, cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP,
               cit::v1::ALERT_KIND_LATE_ARRIVAL, cit::v1::ALERT_KIND_DWELL_EXCEEDED},
              {cit::v1::ALERT_KIND_CREW_INCOMPLETE});
  ExpectSameAlertsAndReport(reference, restarted);
  ExpectWatchSawEveryChangeOnce(restarted);
}

TEST(RestartEquivalenceTest, MunichDriveWithKillsAndATermRestartGivesTheUninterruptedAlerts) {
  ASSERT_GT(cit::test::MunichTrack().size(), kS2 + 100);
  const Drive drive = MakeMunichDrive(BaseBefore(1500));
  const Outcome reference = RunDrive(drive, false);
  const Outcome restarted = RunDrive(drive, true);
  ExpectMunichOutcome(reference, restarted);
  EXPECT_TRUE(restarted.verify_run.ok()) << "SQLite: the ledger verifies runs";
}

// The same drive, kills and SIGTERM on the PostgreSQL backend (issue 15): the run and its plan
// log, the alerts and their events, and the records the restart rebuild replays all come back
// from PostgreSQL, so the restarted server raises exactly the uninterrupted run's alerts (no
// false alert, none lost) and the SQLite file holds none of them.
TEST(RestartEquivalenceTest, MunichDriveOnPostgresqlWithKillsGivesTheUninterruptedAlerts) {
  ASSERT_GT(cit::test::MunichTrack().size(), kS2 + 100);
  cit::test::PostgresServer* pg = cit::test::SharedPostgres();
  ASSERT_NE(pg, nullptr);
  auto reference_db = pg->CreateDatabase();
  auto restarted_db = pg->CreateDatabase();
  ASSERT_TRUE(reference_db.ok() && restarted_db.ok());
  const Drive drive = MakeMunichDrive(BaseBefore(1500));
  const Outcome reference = RunDrive(drive, false, *reference_db);
  const Outcome restarted = RunDrive(drive, true, *restarted_db);
  ExpectMunichOutcome(reference, restarted);
  // Everything is in PostgreSQL: each record once, the run's changes, every listed alert.
  EXPECT_EQ(restarted.pg_rows.at("records"), static_cast<int64_t>(drive.records.size()));
  EXPECT_EQ(restarted.pg_rows.at("runs"), 1);
  EXPECT_GE(restarted.pg_rows.at("plan_events"), 3) << "create, dispatch, activate";
  EXPECT_EQ(restarted.pg_rows.at("alerts"), static_cast<int64_t>(restarted.alerts.size()));
  EXPECT_GE(restarted.pg_rows.at("alert_events"), static_cast<int64_t>(restarted.alerts.size()));
  for (const char* table : {"records", "runs", "plan_events", "alerts", "alert_events",
                            "monitor_snapshots", "checkpoints", "identity_events"}) {
    EXPECT_EQ(restarted.sqlite_tables.count(table), 0u) << table << " in the SQLite file";
  }
  // The run verifies against the signed checkpoints: its records, the plan log and the alert
  // events, read from PostgreSQL, are each one unbroken chain across the kills.
  ASSERT_TRUE(restarted.verify_run.ok()) << restarted.verify_run.error_message();
  EXPECT_TRUE(restarted.run_chain.intact()) << restarted.run_chain.problem();
  EXPECT_GE(restarted.run_chain.checkpoint_id(), 1u);
  std::set<std::string> chains;
  for (const auto& c : restarted.run_chain.chains()) chains.insert(c.chain());
  EXPECT_EQ(chains.count("records/" + drive.vehicle_id), 1u);
  EXPECT_EQ(chains.count("plans"), 1u);
  EXPECT_EQ(chains.count("alerts"), 1u);
  ASSERT_TRUE(restarted.verify_vehicle.ok()) << restarted.verify_vehicle.error_message();
  EXPECT_TRUE(restarted.vehicle_chain.intact());
  EXPECT_EQ(restarted.vehicle_chain.records_checked(), drive.records.size());
}

// The kill points drawn at random: the seed is printed, and CIT_TEST_SEED repeats a run.
uint64_t Seed() {
  const char* env = std::getenv("CIT_TEST_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::cerr << "CIT_TEST_SEED=" << seed << "\n";
  return seed;
}

// On `backend` ("sqlite" or "postgresql": two fresh databases, the uninterrupted run's and the
// restarted one's).
void RunKubicka(const KubickaSetup& setup, const std::vector<cit::v1::AlertKind>& present,
                const std::vector<cit::v1::AlertKind>& absent,
                const std::string& backend = "sqlite") {
  const uint64_t seed = Seed();
  std::mt19937_64 random(seed);
  const auto track = cit::test::KubickaTrack(setup.track_id);
  ASSERT_GT(track.size(), std::max(setup.door_away_index, setup.kill_index) + 10);
  const Drive drive = MakeKubickaDrive(setup, BaseBefore(track.back().t_s + 600), random);
  SCOPED_TRACE("CIT_TEST_SEED=" + std::to_string(seed) + ":" + Describe(drive.stops));
  std::string reference_db, restarted_db;
  if (backend == "postgresql") {
    cit::test::PostgresServer* pg = cit::test::SharedPostgres();
    ASSERT_NE(pg, nullptr);
    auto a = pg->CreateDatabase();
    auto b = pg->CreateDatabase();
    ASSERT_TRUE(a.ok() && b.ok());
    reference_db = *a;
    restarted_db = *b;
  }
  const Outcome reference = RunDrive(drive, false, reference_db);
  const Outcome restarted = RunDrive(drive, true, restarted_db);
  std::cerr << "uninterrupted alerts:\n" << Describe(reference.alerts);
  ExpectKinds(reference, present, absent);
  ExpectSameAlertsAndReport(reference, restarted);
  ExpectWatchSawEveryChangeOnce(restarted);
}

// Track 16 against route 10: on the route for its first 712 s, then off three times (up to
// 453 m, 723 m and 130 m; SOURCES.md). One stop is inserted at 500 s (the trace never waits);
// door 2 opens during the first deviation; one kill lands 100 s into it.
TEST(RestartEquivalenceTest, KubickaDivergingDriveWithRandomKillsGivesTheUninterruptedAlerts) {
  CIT_SKIP_WITHOUT_KUBICKA("00000016");
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  RunKubicka({"00000016", "00000010", 500, 800, 812},
             {cit::v1::ALERT_KIND_ROUTE_DEVIATION, cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP,
              cit::v1::ALERT_KIND_LATE_ARRIVAL},
             {cit::v1::ALERT_KIND_CREW_INCOMPLETE});
}

TEST(RestartEquivalenceTest, KubickaDivergingDriveOnPostgresqlWithRandomKillsGivesTheSameAlerts) {
  CIT_SKIP_WITHOUT_KUBICKA("00000016");
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  RunKubicka({"00000016", "00000010", 500, 800, 812},
             {cit::v1::ALERT_KIND_ROUTE_DEVIATION, cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP,
              cit::v1::ALERT_KIND_LATE_ARRIVAL},
             {cit::v1::ALERT_KIND_CREW_INCOMPLETE}, "postgresql");
}

// Track 10 on its own route: it waits ~5 and then ~11 minutes at one corner mid-drive (one stop,
// over its dwell limit and late); door 2 opens while driving at 300 s. The drive is drained as a
// backlog, so the stop's window has closed more than missed_stop_grace_s ago when the run is
// dispatched: MISSED_STOP is raised at once and cleared when the backlog shows the arrival, in
// both runs alike.
TEST(RestartEquivalenceTest, KubickaDriveWithStopsAndRandomKillsGivesTheUninterruptedAlerts) {
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  RunKubicka({"00000010", "00000010", 0, 300, 1200},
             {cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP, cit::v1::ALERT_KIND_DWELL_EXCEEDED,
              cit::v1::ALERT_KIND_LATE_ARRIVAL},
             {cit::v1::ALERT_KIND_CREW_INCOMPLETE, cit::v1::ALERT_KIND_ROUTE_DEVIATION});
}

TEST(RestartEquivalenceTest, KubickaDriveWithStopsOnPostgresqlWithRandomKillsGivesTheSameAlerts) {
  CIT_SKIP_WITHOUT_KUBICKA("00000010");
  RunKubicka({"00000010", "00000010", 0, 300, 1200},
             {cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP, cit::v1::ALERT_KIND_DWELL_EXCEEDED,
              cit::v1::ALERT_KIND_LATE_ARRIVAL},
             {cit::v1::ALERT_KIND_CREW_INCOMPLETE, cit::v1::ALERT_KIND_ROUTE_DEVIATION},
             "postgresql");
}

}  // namespace
}  // namespace cit::dispatch
