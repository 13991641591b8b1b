// The fleet view across several instances on one PostgreSQL database (issue 15 §3): each
// vehicle is evaluated by one instance only (server/ownership_follower.h), yet an operator on any
// instance must see every truck live. Once per interval this instance
//  - publishes the fleet state (Monitor::Fleet) of the vehicles it owns that changed since its
//    last publish, in one statement, into fleet_states (store/postgres_fleet_states.h; fenced:
//    a vehicle this instance lost is not written), and
//  - reads the rows published since its cursor (bounded pages), keeping the newest per vehicle.
// Fleet() is then the monitor's own vehicles plus, for every vehicle this instance does not own
// (or whose state it is still rebuilding after a takeover), its owner's published state: a
// released vehicle switches to the owner's rows at once. Ages are
// recomputed: last_fix_age_s from last_fix_time as the monitor does, last_seen_age_s from the
// published age plus the row's age on the database's clock plus the time since it was read.
// Staleness of another instance's vehicle: at most one interval on the owner (publish) plus one
// here (read), plus a database round trip; WatchFleet adds its own throttle.
//
//   SharedFleet shared({.instance = "a"}, std::move(table), &monitor, &follower, &clock);
//   FleetFeed feed([&] { return shared.Fleet(); }, std::chrono::seconds(1));
//   shared.Start();  ...  shared.Stop();
//
// A failed publish or read is logged ("event=fleet_share_failed") and retried at the next
// interval; the view keeps serving what it has. Metrics: cit_fleet_states_published_total,
// cit_fleet_states_fenced_total, cit_fleet_states_read_total, cit_fleet_share_failures_total.
//
// Thread contract: thread-safe. Fleet() from any thread (never touches the database); SyncOnce
// from the own thread between Start and Stop, or from a test without it.
#ifndef CIT_DISPATCH_SERVER_SERVER_SHARED_FLEET_H_
#define CIT_DISPATCH_SERVER_SERVER_SHARED_FLEET_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/status/status.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/server/ownership_follower.h"
#include "dispatch-server/store/postgres_fleet_states.h"

namespace cit::dispatch {

struct SharedFleetOptions {
  std::string instance;                      // this instance's [store] instance name
  std::chrono::milliseconds interval{1000};  // the fleet feed's throttle
  size_t read_page = 1000;                   // rows per read
  int max_pages = 20;                        // per interval; the rest waits for the next one
};

class SharedFleet {
 public:
  // The parts must outlive this object.
  SharedFleet(SharedFleetOptions options, std::unique_ptr<PostgresFleetStates> table,
              const Monitor* monitor, const OwnershipFollower* ownership, const Clock* clock);
  ~SharedFleet();
  SharedFleet(const SharedFleet&) = delete;
  SharedFleet& operator=(const SharedFleet&) = delete;

  void SetMetrics(std::shared_ptr<MetricsRegistry> registry);

  // The whole fleet as this instance sees it now.
  cit::v1::Fleet Fleet() const;
  // Publishes this instance's changed vehicles, then reads the others' (the interval's work).
  absl::Status SyncOnce();
  void Start();
  void Stop();

  uint64_t published() const;  // rows written
  uint64_t fenced() const;     // rows refused (this instance no longer owns the vehicle)
  uint64_t read() const;       // rows read

 private:
  struct Remote {
    cit::v1::VehicleState state;
    std::string owner;
    uint64_t fencing_token = 0;
    double age_at_read_s = 0;  // database clock
    SysTime read_at;           // this instance's clock
  };

  // The vehicles this instance owns and has a current state of, with their fencing tokens.
  std::unordered_map<std::string, uint64_t> JudgedHere() const;
  absl::Status Publish();
  absl::Status Read();
  // The remote state with ages brought to `now`.
  cit::v1::VehicleState Aged(const Remote& r, SysTime now) const;
  void Count(const char* name, const char* help, uint64_t n);
  void Loop();

  const SharedFleetOptions options_;
  std::unique_ptr<PostgresFleetStates> table_;
  const Monitor* monitor_;
  const OwnershipFollower* ownership_;
  const Clock* clock_;

  // Publish and read state: SyncOnce only, one at a time.
  std::mutex sync_mu_;
  // Per vehicle: fencing token and fingerprint of the state last written (sync_mu_).
  std::unordered_map<std::string, std::pair<uint64_t, std::string>> last_published_;
  FleetStateCursor cursor_;  // sync_mu_

  mutable std::mutex mu_;
  std::unordered_map<std::string, Remote> remote_;  // newest published row per vehicle
  uint64_t published_ = 0;
  uint64_t fenced_ = 0;
  uint64_t read_ = 0;
  std::shared_ptr<MetricsRegistry> metrics_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // stop_mu_
  std::thread thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_SHARED_FLEET_H_
