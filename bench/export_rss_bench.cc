// Peak memory and throughput of run exports (issue 16 §2): the same dispatchctl export of an
// 8 h and a 24 h run at 1 Hz, in every format, against an Audit service on loopback gRPC over a
// real SQLite store. Memory should not follow the run's length; time should.
//
//   build/ci/bench/export_rss_bench [build/ci/dispatchctl/dispatchctl]
//
// Per run length: the store is seeded (in batches), the process's peak RSS is reset
// (/proc/self/clear_refs 5) so seeding does not count, then each format is exported by the real
// dispatchctl under /usr/bin/time. Printed: document bytes, seconds, MB/s, dispatchctl max RSS,
// and this process's (the server's) peak RSS since the reset.
#include <grpcpp/grpcpp.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "dispatch-server/audit/audit_service.h"
#include "dispatch-server/audit/store_audit_source.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/ctl/long_run.h"
#include "tests/ctl/scenario.h"

namespace {

namespace fs = std::filesystem;
namespace sc = cit::test::scenario;
using namespace cit::dispatch;

long StatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}

void ResetPeakRss() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

std::string Run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  if (p) pclose(p);
  return out;
}

void BenchRunLength(int hours, const std::string& ctl, const fs::path& dir) {
  const int seconds = hours * 3600;
  auto store = SqliteStore::Open(dir / ("h" + std::to_string(hours) + ".db"));
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    std::exit(1);
  }
  {
    const auto records = cit::test::LongRunRecords(sc::Start(), seconds);
    for (std::size_t i = 0; i < records.size(); i += 5000) {
      AppendBatch batch;
      for (std::size_t j = i; j < std::min(records.size(), i + 5000); ++j) {
        batch.records.push_back(
            CommittedRecord{sc::kVehicle, records[j], std::chrono::system_clock::now()});
      }
      if (!(*store)->Append(batch).ok()) std::exit(1);
    }
  }
  cit::v1::Run run = sc::MakeRun();
  *run.mutable_ended_time() = cit::test::Plus(sc::Start(), seconds + 60);
  AuditService service(std::make_shared<StoreAuditSource>(
      **store, [run](const std::string&) -> absl::StatusOr<cit::v1::Run> { return run; }, nullptr));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ResetPeakRss();
  const long base_kb = StatusKb("VmRSS:");
  for (const char* format : {"csv", "gpx", "geojson"}) {
    const fs::path out = dir / (std::string("export.") + format);
    const std::string cmd = "/usr/bin/time -f '%M %e' " + ctl +
                            " --insecure --server 127.0.0.1:" + std::to_string(port) +
                            " audit export " + sc::kRun + " --format " + format + " -o " +
                            out.string() + " 2>&1 >/dev/null | tail -1";
    long ctl_kb = 0;
    double secs = 0;
    std::sscanf(Run(cmd).c_str(), "%ld %lf", &ctl_kb, &secs);
    const double mb = static_cast<double>(fs::file_size(out)) / 1e6;
    std::printf(
        "%2d h  %-7s  %7.1f MB  %6.2f s  %6.1f MB/s  dispatchctl max RSS %4ld MB  "
        "server peak RSS %4ld MB (%ld MB before the exports)\n",
        hours, format, mb, secs, secs > 0 ? mb / secs : 0.0, ctl_kb / 1024,
        StatusKb("VmHWM:") / 1024, base_kb / 1024);
    fs::remove(out);
  }
  server->Shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string ctl = argc > 1 ? argv[1] : "build/ci/dispatchctl/dispatchctl";
  const fs::path dir = fs::temp_directory_path() / ("cit-export-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::printf("nproc %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
  for (int hours : {8, 24}) BenchRunLength(hours, ctl, dir);
  fs::remove_all(dir);
  return 0;
}
