// `audit report` + `audit export` of one 8 h run through the real dispatchctl against a real
// dispatch-server (TLS, bearer token) on a large store (issue 14 §2: "under 100 ms, measured
// on a large store").
//
// The store is seeded before the server opens it: V vehicles (default 1,000) with H records of
// history each (default 10,000; 10 M records) through SqliteStore::Append, vehicle after
// vehicle. Then the scenario's run is planned and dispatched with
// dispatchctl and 8 h of 1 Hz records (28,816) streamed in over mTLS, as in
// tests/ctl/long_export_test.cc.
//
// Timed, wall clock of the whole dispatchctl process (start, TLS handshake, call, output):
//   - `plan list` (client start-up + TLS + one small call: the floor of any command),
//   - `audit report RUN`, `audit export RUN --format csv -o FILE`, and both one after the other,
// cold (the first calls after the server restarted: its SQLite page cache is empty; the OS page
// cache is not dropped, the machine is shared) and warm (median and best of N).
//
//   export CIT_SOURCE_DIR=$PWD CIT_BINARY_DIR=$PWD/build/ci
//   build/ci/bench/audit_run_bench [--vehicles 1000] [--history 10000] [--repeat 15] [--perf]
//                                  [--store /tmp/history.db]   # seeded once, then copied
//
// --perf: while the warm calls run, `perf record -g` samples the server (perf.data in the
// temp dir, kept and printed at the end).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "dispatch-server/store/sqlite_store.h"
#include "tests/ctl/live_server_fixture.h"
#include "tests/ctl/long_run.h"
#include "tests/ctl/scenario.h"

namespace {

namespace sc = cit::test::scenario;
using google::protobuf::util::TimeUtil;
using Clock = std::chrono::steady_clock;

int g_vehicles = 1000;
int g_history = 10000;
int g_repeat = 15;
bool g_perf = false;
std::string g_store;  // --store: keep the seeded history there and reuse it next time

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU time (user + system) of this process's waited-for children, ms.
double ChildrenCpuMs() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

// CPU time (user + system) of process `pid`, ms (/proc/<pid>/stat fields 14 and 15).
double ProcessCpuMs(pid_t pid) {
  std::string stat = cit::test::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return (utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string LoadAverage() {
  std::string s = cit::test::ReadFile("/proc/loadavg");
  return s.substr(0, s.find(' ', s.find(' ', s.find(' ') + 1) + 1));
}

class AuditRunBench : public cit::test::LiveServerTest {
 protected:
  void SetUp() override {
    const std::filesystem::path db = dir_ / "dispatch.db";
    if (!g_store.empty() && std::filesystem::exists(g_store)) {
      std::filesystem::copy_file(g_store, db);
      std::printf("history copied from %s\n", g_store.c_str());
    } else {
      Seed();
      if (!g_store.empty()) std::filesystem::copy_file(db, g_store);
    }
    LiveServerTest::SetUp();
  }

  // History of other vehicles, before the run (one record a second per vehicle).
  void Seed() {
    const auto start = Clock::now();
    auto store = cit::dispatch::SqliteStore::Open(
        dir_ / "dispatch.db", {.durability = cit::dispatch::sqlite::Durability::kNormal});
    ASSERT_TRUE(store.ok()) << store.status();
    const int64_t t0 = TimeUtil::GetCurrentTime().seconds() - 30 * 86400;
    cit::dispatch::AppendBatch batch;
    auto flush = [&] {
      ASSERT_TRUE((*store)->Append(batch).ok());
      batch.records.clear();
    };
    // Vehicle after vehicle: the table is clustered by (vehicle, seq) either way, and seeding
    // in that order is many times faster than the interleaved order a live fleet writes in.
    for (int v = 0; v < g_vehicles; ++v) {
      for (int t = 0; t < g_history; ++t) {
        cit::dispatch::CommittedRecord r;
        r.vehicle_id = "CIT-H" + std::to_string(10000 + v);
        google::protobuf::Timestamp at;
        at.set_seconds(t0 + t);
        r.record = cit::test::FixRecord(r.vehicle_id, static_cast<uint64_t>(t) + 1, at,
                                        47.3 + 1e-5 * v, 8.5 + 1e-6 * t);
        r.record.clear_vehicle_id();
        r.server_received_time =
            std::chrono::system_clock::time_point(std::chrono::seconds(t0 + t));
        batch.records.push_back(std::move(r));
        if (batch.records.size() == 20000) flush();
      }
    }
    if (!batch.records.empty()) flush();
    store->reset();
    std::printf("seeded %d vehicles x %d records in %.1f s, %.2f GB\n", g_vehicles, g_history,
                Ms(Clock::now() - start) / 1000,
                std::filesystem::file_size(dir_ / "dispatch.db") / 1e9);
  }

  // Wall time of one dispatchctl command, ms.
  double Time(const std::string& who, const std::string& args) {
    const auto start = Clock::now();
    const int rc = Ctl(who, args);
    const double ms = Ms(Clock::now() - start);
    EXPECT_EQ(rc, 0) << args << ": " << err_;
    return ms;
  }
};

struct Command {
  const char* name;
  std::vector<std::string> args;  // run one after the other
};

TEST_F(AuditRunBench, ReportAndExportOfAnEightHourRun) {
  base_ = cit::test::Plus(TimeUtil::GetCurrentTime(), -8 * 3600 - 60);
  base_.set_nanos(0);
  ASSERT_EQ(Ctl("dora", "plan create --force " + WritePlanJson()), 0) << err_;
  ASSERT_EQ(Ctl("dora", std::string("plan dispatch ") + sc::kRun), 0) << err_;
  const auto records = cit::test::LongRunRecords(base_, 8 * 3600);
  Inject(records, std::chrono::seconds(600));
  std::printf("run %s: %zu records; nproc %ld; load average %s\n", sc::kRun, records.size(),
              sysconf(_SC_NPROCESSORS_ONLN), LoadAverage().c_str());

  const std::string csv = (dir_ / "run.csv").string();
  const std::vector<Command> commands = {
      {"plan list (floor)", {"plan list"}},
      {"audit report", {std::string("audit report ") + sc::kRun}},
      {"audit export (CSV)", {std::string("audit export ") + sc::kRun + " --format csv -o " + csv}},
      {"report + export",
       {std::string("audit report ") + sc::kRun,
        std::string("audit export ") + sc::kRun + " --format csv -o " + csv}},
      {"report --export (1 cmd)",
       {std::string("audit report ") + sc::kRun + " --export " + csv + " --format csv"}},
  };
  // Wall ms; the CPU of dispatchctl (with its shell) and of the server go to the sums.
  double client_cpu = 0;
  double server_cpu = 0;
  auto time_command = [&](const Command& c) {
    const double client0 = ChildrenCpuMs();
    const double server0 = ProcessCpuMs(server_->pid());
    double ms = 0;
    for (const auto& a : c.args) ms += Time("aude", a);
    client_cpu += ChildrenCpuMs() - client0;
    server_cpu += ProcessCpuMs(server_->pid()) - server0;
    return ms;
  };

  // Cold: a fresh server process per command.
  std::vector<double> cold;
  for (const Command& c : commands) {
    StopServer();
    StartServer();
    cold.push_back(time_command(c));
  }

  std::unique_ptr<cit::test::Process> perf;
  if (g_perf) {
    perf = std::make_unique<cit::test::Process>(
        std::vector<std::string>{"perf", "record", "-g", "-o", (dir_ / "perf.data").string(), "-p",
                                 std::to_string(server_->pid())},
        dir_ / "perf.log");
  }
  std::printf(
      "\n%-22s %10s %12s %10s %12s %12s   (ms; wall of the whole dispatchctl process, CPU "
      "means of the warm calls)\n",
      "command", "cold", "warm median", "warm best", "client CPU", "server CPU");
  for (std::size_t i = 0; i < commands.size(); ++i) {
    std::vector<double> warm;
    client_cpu = server_cpu = 0;
    for (int k = 0; k < g_repeat; ++k) warm.push_back(time_command(commands[i]));
    std::sort(warm.begin(), warm.end());
    std::printf("%-22s %10.1f %12.1f %10.1f %12.1f %12.1f\n", commands[i].name, cold[i],
                warm[warm.size() / 2], warm.front(), client_cpu / g_repeat, server_cpu / g_repeat);
  }
  std::printf("load average after: %s\n", LoadAverage().c_str());
  if (perf) {
    perf->Signal(SIGINT);
    perf->WaitExit(std::chrono::seconds(30));
    const std::filesystem::path keep =
        std::filesystem::temp_directory_path() / "audit_run_bench.perf.data";
    std::filesystem::copy_file(dir_ / "perf.data", keep,
                               std::filesystem::copy_options::overwrite_existing);
    std::printf("perf data: %s (perf report -i %s --no-children)\n", keep.c_str(), keep.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--perf") == 0) g_perf = true;
    if (i + 1 < argc && std::strcmp(argv[i], "--vehicles") == 0)
      g_vehicles = std::atoi(argv[i + 1]);
    if (i + 1 < argc && std::strcmp(argv[i], "--history") == 0) g_history = std::atoi(argv[i + 1]);
    if (i + 1 < argc && std::strcmp(argv[i], "--repeat") == 0) g_repeat = std::atoi(argv[i + 1]);
    if (i + 1 < argc && std::strcmp(argv[i], "--store") == 0) g_store = argv[i + 1];
  }
  return RUN_ALL_TESTS();
}
