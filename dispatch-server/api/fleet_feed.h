// The live fleet feed behind WatchFleet: once per throttle interval it takes the fleet view
// (Monitor::Fleet) and tells every subscriber which vehicles changed since the last interval, so
// each vehicle is sent at most once per interval however many fixes it reports (per-vehicle
// throttling, server-side, shared by every watcher).
//
//   FleetFeed feed([&monitor] { return monitor.Fleet(); }, std::chrono::seconds(1));
//   feed.Start();
//   int id = feed.Subscribe(&watcher);   // watcher.OnVehicles(changed) once per interval
//   feed.Unsubscribe(id);                // no call to `watcher` after it returns
//   feed.EndStreams();                   // shutdown: every watcher.OnEnd(); Subscribe -> 0
//
// "Changed" ignores the ages (last_fix_age_s, last_seen_age_s), which move with the clock; a
// client computes ages from last_fix_time. Everything else (position, state, alerts, ETA,
// connected, GNSS) counts.
//
// Thread contract: thread-safe; OnVehicles runs on the feed's thread with the feed's subscriber
// lock held (so it must only queue, never block, and never call Subscribe/Unsubscribe).
#ifndef CIT_DISPATCH_SERVER_API_FLEET_FEED_H_
#define CIT_DISPATCH_SERVER_API_FLEET_FEED_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// What "changed" compares: the vehicle's state without the clock-driven ages, serialized
// deterministically (also the shared fleet view's test for republishing, server/shared_fleet.h).
std::string FleetFingerprint(cit::v1::VehicleState v);

class FleetFeed {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    virtual void OnVehicles(const std::vector<cit::v1::VehicleState>& changed) = 0;
    // The server is shutting down: end the stream now (no more calls follow).
    virtual void OnEnd() = 0;
  };

  FleetFeed(std::function<cit::v1::Fleet()> source, std::chrono::milliseconds throttle);
  ~FleetFeed();
  FleetFeed(const FleetFeed&) = delete;
  FleetFeed& operator=(const FleetFeed&) = delete;

  void Start();
  void Stop();

  // 0 once EndStreams ran (the caller ends its stream at once).
  int Subscribe(Subscriber* subscriber);
  void Unsubscribe(int id);
  // At shutdown, once everything received is stored: tells every subscriber to end its stream,
  // so operators' clients resume elsewhere instead of waiting out the shutdown grace.
  void EndStreams();
  // The fleet right now (a new watcher's snapshot).
  cit::v1::Fleet Snapshot() const { return source_(); }
  std::chrono::milliseconds throttle() const { return throttle_; }

 private:
  void Loop();
  // Compares with the previous interval and publishes what changed.
  void PublishChanges();

  const std::function<cit::v1::Fleet()> source_;
  const std::chrono::milliseconds throttle_;

  std::mutex subscribers_mu_;
  std::map<int, Subscriber*> subscribers_;  // guarded by subscribers_mu_
  int next_id_ = 1;                         // guarded by subscribers_mu_
  bool ending_ = false;                     // guarded by subscribers_mu_

  std::unordered_map<std::string, std::string> last_;  // vehicle -> fingerprint (feed thread)

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_mu_
  std::thread thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_API_FLEET_FEED_H_
