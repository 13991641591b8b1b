// What sharing the fleet view costs on PostgreSQL (server/shared_fleet.h): one instance's
// publish of N changed vehicle states (statements of up to 1,000 rows, fenced by the ownership
// rows) and another's read of them (pages of 1,000), on the private PostgreSQL of tests/support.
//
//   build/ci/bench/fleet_states_bench --vehicles 1000 --rounds 20
//
// Prints the median and the slowest interval's publish and read time: both must stay well
// under the fleet interval (1 s).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/store/postgres_fleet_states.h"
#include "dispatch-server/store/postgres_store.h"
#include "tests/support/postgres_server.h"

namespace {

using namespace cit::dispatch;  // NOLINT: a benchmark's main
using Steady = std::chrono::steady_clock;

double Ms(Steady::time_point since) {
  return std::chrono::duration<double, std::milli>(Steady::now() - since).count();
}

// A vehicle on a run, as Monitor::Fleet fills it (about 200 bytes serialised).
cit::v1::VehicleState State(int vehicle, int round) {
  cit::v1::VehicleState v;
  v.set_vehicle_id("truck-" + std::to_string(vehicle));
  v.mutable_last_fix()->set_lat_deg(48.0 + round * 1e-4);
  v.mutable_last_fix()->set_lon_deg(11.5 + vehicle * 1e-4);
  v.mutable_last_fix()->set_mode(cit::v1::FIX_MODE_3D);
  v.mutable_last_fix()->set_speed_mps(12.5);
  v.mutable_last_fix()->set_track_deg(90);
  *v.mutable_last_fix_time() = ToProto(FromUnixSeconds(1'700'000'000 + round));
  v.set_connected(true);
  v.set_run_id("run-" + std::to_string(vehicle));
  v.set_run_state(cit::v1::RUN_STATE_ACTIVE);
  v.set_progress_m(1000.0 * round);
  v.set_progress_fraction(0.3);
  v.set_next_stop_id("S2");
  v.set_next_stop_name("Branch Marienplatz");
  *v.mutable_next_stop_eta() = ToProto(FromUnixSeconds(1'700'000'600));
  v.set_gnss_state(cit::v1::GNSS_STATE_FIX_ACQUIRED);
  v.set_moving(true);
  v.add_crew_on_board("B-1");
  v.add_crew_on_board("B-2");
  v.set_heading_deg(90);
  v.set_speed_mps(12.5);
  return v;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int vehicles = 1000, rounds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--vehicles") == 0) vehicles = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  if (vehicles <= 0 || rounds <= 0) {
    std::fprintf(stderr, "--vehicles and --rounds must be above 0\n");
    return 2;
  }
  auto server = cit::test::PostgresServer::Start();
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  auto conninfo = (*server)->CreateDatabase();
  if (!conninfo.ok()) return 1;
  PostgresStoreOptions so;
  so.connection = *conninfo;
  so.instance = "a";
  auto store = PostgresStore::Open(so);
  auto writer = PostgresFleetStates::Open(*conninfo);
  auto reader = PostgresFleetStates::Open(*conninfo);
  if (!store.ok() || !writer.ok() || !reader.ok()) return 1;
  std::vector<uint64_t> tokens(vehicles);
  for (int i = 0; i < vehicles; ++i) {
    auto token = (*store)->TakeOwnership("truck-" + std::to_string(i));
    if (!token.ok()) return 1;
    tokens[i] = *token;
  }
  std::vector<double> publish_ms, read_ms;
  size_t bytes = 0;
  FleetStateCursor cursor;
  for (int round = 0; round < rounds; ++round) {
    std::vector<FleetStateWrite> writes;
    for (int i = 0; i < vehicles; ++i) {
      writes.push_back(
          {"truck-" + std::to_string(i), tokens[i], State(i, round).SerializeAsString()});
      bytes = writes.back().state.size();
    }
    auto start = Steady::now();
    size_t written = 0;
    for (size_t from = 0; from < writes.size(); from += PostgresFleetStates::kMaxRowsPerPublish) {
      const size_t n = std::min(PostgresFleetStates::kMaxRowsPerPublish, writes.size() - from);
      auto w = (*writer)->Publish("a", {writes.data() + from, n});
      if (!w.ok()) return 1;
      written += w->size();
    }
    publish_ms.push_back(Ms(start));
    if (written != writes.size()) return 1;
    start = Steady::now();
    size_t read = 0;
    for (;;) {
      auto rows = (*reader)->ReadAfter(cursor, 1000);
      if (!rows.ok()) return 1;
      read += rows->size();
      if (!rows->empty()) cursor = {rows->back().updated_at_us, rows->back().vehicle_id};
      if (rows->size() < 1000) break;
    }
    read_ms.push_back(Ms(start));
    if (read != writes.size()) return 1;
  }
  std::printf(
      "%d vehicles, %zu-byte states, %d intervals: publish median %.1f ms, max %.1f ms; read "
      "median %.1f ms, max %.1f ms\n",
      vehicles, bytes, rounds, Median(publish_ms),
      *std::max_element(publish_ms.begin(), publish_ms.end()), Median(read_ms),
      *std::max_element(read_ms.begin(), read_ms.end()));
  return 0;
}
