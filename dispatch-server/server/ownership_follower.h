// Monitoring follows vehicle ownership among several instances on one PostgreSQL database
// (issue 15 §3): each vehicle is evaluated by exactly one instance at a time, the one that owns
// it (the fencing token in vehicle_seq, taken by the instance its agent connects to).
//
//  - This instance takes a vehicle over (the ingest, before the agent's Welcome): when it did
//    not hold the previous token -- another instance wrote in between, whose evaluation this
//    monitor never saw -- the vehicle's records wait in the monitor while its state is rebuilt
//    from the store, exactly as at a restart (StateRebuilder::Retake), then are judged from it.
//    "event=monitor_takeover vehicle=... fencing_token=N rebuild=true|false".
//  - Another instance takes one of this instance's vehicles over: found by reading the owners
//    every poll_interval (and once at start-up, before the monitor runs), it is released
//    (Monitor::Release): no deadline, no time-driven alert (COMMS_LOST, late, dwell, GNSS lost)
//    and no record is judged for it here any more. "event=monitor_vehicle_released ...".
//  - Liveness and adoption: every poll first stamps this instance's heartbeat row (the database's
//    clock). A vehicle this instance has a live run for, whose owner's heartbeat is older than
//    instance_expiry (the owner died: kill -9, host lost, paused) or that no instance has taken
//    over yet (owner ""), is adopted: taken over with a new fencing token only if its owner row
//    still reads as polled (Store::AdoptOwnership), so of several survivors exactly one wins each
//    vehicle and the old owner, if it comes back, is fenced. The winner rebuilds its state as
//    at a takeover and evaluates it (COMMS_LOST when the data stopped); the others release it at
//    their next poll. "event=vehicle_adopted vehicle=... previous_owner=... fencing_token=N".
//    A vehicle's agent connecting anywhere later takes it over as usual.
//  - Fenced alert (alerts/alert_manager.h): this instance's alert store refused a monitor event
//    because another instance owns the vehicle (this instance was paused past the takeover):
//    OnFenced releases the vehicle at once, as the next poll would have.
// Each transition is counted in cit_monitor_ownership_transitions_total{transition}.
//
//   auto f = OwnershipFollower::Open({.instance = "a", .postgres_connection = conninfo},
//                                    &monitor, &rebuilder, &runs, &clock);
//   ingest_options.on_taken_over = [&](const std::string& v, uint64_t t) { f->OnTakenOver(v, t); };
//   f->SetStore(store);  // adoption (without: vehicles of dead owners stay unevaluated)
//   f->Start();  ...  f->Stop();
//
// A release waits for the next poll: an instance learns it lost a vehicle at most
// poll_interval after the takeover, far below the shortest time-driven rule (COMMS_LOST, 60 s).
//
// Thread contract: OnTakenOver from any thread (the ingest's takeover thread); the poll runs on
// its own thread between Start and Stop. All state under one mutex.
#ifndef CIT_DISPATCH_SERVER_SERVER_OWNERSHIP_FOLLOWER_H_
#define CIT_DISPATCH_SERVER_SERVER_OWNERSHIP_FOLLOWER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/metrics/metrics_registry.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/monitor/state_rebuild.h"
#include "dispatch-server/plans/run_manager.h"
#include "dispatch-server/store/store.h"
#include "dispatch-server/store/vehicle_owners.h"

namespace cit::dispatch {

struct OwnershipFollowerOptions {
  std::string instance;  // this instance's [store] instance name (non-empty)
  std::string postgres_connection;
  std::chrono::milliseconds poll_interval{1000};  // also the heartbeat interval
  // An owner whose heartbeat is older than this is dead ([store] instance_expiry_ms): several
  // poll intervals, so a slow poll or a short database hiccup does not hand vehicles over.
  std::chrono::milliseconds instance_expiry{10'000};
};

class OwnershipFollower {
 public:
  // Reads the owners once: vehicles another instance owns are released before the monitor
  // starts; those this instance owned (a restart under its name) are its own, and their state
  // comes from the start-up rebuild. The parts must outlive the follower.
  static absl::StatusOr<std::unique_ptr<OwnershipFollower>> Open(OwnershipFollowerOptions options,
                                                                 Monitor* monitor,
                                                                 StateRebuilder* rebuilder,
                                                                 const RunManager* runs,
                                                                 const Clock* clock);
  ~OwnershipFollower();
  OwnershipFollower(const OwnershipFollower&) = delete;
  OwnershipFollower& operator=(const OwnershipFollower&) = delete;

  void SetMetrics(std::shared_ptr<MetricsRegistry> registry);
  // The record store this instance writes with: adoptions take vehicles over through it, so its
  // own commits carry the new fencing token.
  void SetStore(std::shared_ptr<Store> store);
  // The ingest took `vehicle_id` over with `fencing_token`, before any of its new records.
  void OnTakenOver(const std::string& vehicle_id, uint64_t fencing_token);
  // The alert store found `owner` holding `fencing_token` for the vehicle (a fenced alert
  // event): released here now unless this instance took it over since with a newer token.
  void OnFenced(const std::string& vehicle_id, const std::string& owner, uint64_t fencing_token);
  // Beats, reads the owners, releases what another instance took and adopts the vehicles of
  // dead owners and of none (the poll's work; tests).
  absl::Status PollOnce();
  void Start();
  void Stop();

  // Transitions so far (also in the metric).
  uint64_t released() const;
  uint64_t rebuilt_takeovers() const;
  uint64_t continued_takeovers() const;
  uint64_t adopted() const;
  // The vehicles this instance owns and evaluates now, with the fencing token it holds (the
  // shared fleet view publishes their states: server/shared_fleet.h).
  std::unordered_map<std::string, uint64_t> Owned() const;

 private:
  OwnershipFollower(OwnershipFollowerOptions options, std::unique_ptr<VehicleOwnerReader> reader,
                    Monitor* monitor, StateRebuilder* rebuilder, const RunManager* runs,
                    const Clock* clock);
  // Applies one reading; `initial`: at Open (nothing was evaluated yet). mu_ held.
  void ApplyOwnersLocked(const std::vector<VehicleOwner>& owners, bool initial);
  // Vehicles with a live run here whose owner is dead or none: (vehicle, owner, token) as read.
  std::vector<VehicleOwner> AdoptionCandidatesLocked(const std::vector<VehicleOwner>& owners) const;
  // Takes each candidate over if its row is unchanged; mu_ not held (database transactions).
  void Adopt(Store& store, const std::vector<VehicleOwner>& candidates);
  // This instance now holds `fencing_token` for the vehicle: evaluate it (rebuilt unless its
  // previous token was ours and it came from the agent's stream; `adopted`: always rebuilt, and
  // its silence counts from its last record). mu_ held.
  void TakeOverLocked(const std::string& vehicle_id, uint64_t fencing_token, bool adopted);
  void Count(const char* transition);
  void Loop();

  const OwnershipFollowerOptions options_;
  std::unique_ptr<VehicleOwnerReader> reader_;
  Monitor* monitor_;
  StateRebuilder* rebuilder_;
  const RunManager* runs_;
  const Clock* clock_;
  // When this instance started following: the agents of adopted vehicles could reach it since.
  const SysTime started_at_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Vehicles this instance owns and evaluates, with the fencing token it holds.
  std::unordered_map<std::string, uint64_t> mine_;
  // Vehicles another instance owns (released here), with the token seen.
  std::unordered_map<std::string, uint64_t> elsewhere_;
  uint64_t released_ = 0;
  uint64_t rebuilt_ = 0;
  uint64_t continued_ = 0;
  uint64_t adopted_ = 0;
  std::shared_ptr<MetricsRegistry> metrics_;
  std::shared_ptr<Store> store_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_OWNERSHIP_FOLLOWER_H_
