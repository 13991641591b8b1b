// Open HTTP connections and the connection cap. A connection is idle while it waits for a
// request (TLS handshake, header); at the cap, a new connection displaces the longest-idle one,
// so idle or slow-loris connections cannot lock operators out; when none is idle (every
// connection is streaming or being answered) the new one is refused.
//
//   if (!tracker.MakeRoom()) { refuse; }
//   uint64_t id = tracker.Add(connection);  ...  tracker.SetIdle(id, false);  tracker.Remove(id);
//
// Thread contract: thread-safe; Evict() is called with no lock held.
#ifndef CIT_DISPATCH_SERVER_HTTP_CONNECTION_TRACKER_H_
#define CIT_DISPATCH_SERVER_HTTP_CONNECTION_TRACKER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace cit::dispatch {

class TrackedConnection {
 public:
  virtual ~TrackedConnection() = default;
  // Closes the connection soon (on its own strand).
  virtual void Evict() = 0;
};

class ConnectionTracker {
 public:
  explicit ConnectionTracker(int max_connections) : max_(max_connections) {}

  // True when a new connection may be admitted: below the cap, or an idle one was evicted.
  // `evicted` tells which.
  bool MakeRoom(bool* evicted);
  uint64_t Add(std::weak_ptr<TrackedConnection> connection);
  void Remove(uint64_t id);
  void SetIdle(uint64_t id, bool idle);
  // Evicts every connection (server stop).
  void EvictAll();
  int size() const;

 private:
  struct Entry {
    std::weak_ptr<TrackedConnection> connection;
    std::optional<std::chrono::steady_clock::time_point> idle_since;
    bool evicting = false;
  };
  const int max_;
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;            // guarded by mu_
  std::map<uint64_t, Entry> open_;  // guarded by mu_
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_CONNECTION_TRACKER_H_
