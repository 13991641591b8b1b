// Stores the monitor's periodic snapshots (Monitor::SetSnapshotSink) on its own thread, so the
// monitor thread never waits for the disk.
//
//   SnapshotWriter writer(std::move(snapshot_store), &alert_manager);
//   monitor.SetSnapshotSink([&](StoredSnapshot s) { writer.Post(std::move(s)); });
//   ...
//   monitor.Stop();  writer.Stop();   // stores what is queued
//
// A snapshot says "the run's alert events up to id N are reflected in this state"; a restart
// matches re-evaluated signals only against later events. So a snapshot is stored only once the
// AlertManager has stored every event made so far (AlertManager::WaitStored): otherwise a crash
// could leave a snapshot that reflects an alert whose event was lost, and the rebuild would
// neither raise it again nor find it. A snapshot that cannot be stored is dropped and counted
// (the next one replaces it; a restart meanwhile replays the whole run).
//
// Thread contract: Post is thread-safe and never blocks on I/O (a short mutex; a newer snapshot
// of the same vehicle replaces a queued one). Stop joins the thread.
#ifndef CIT_DISPATCH_SERVER_MONITOR_SNAPSHOT_WRITER_H_
#define CIT_DISPATCH_SERVER_MONITOR_SNAPSHOT_WRITER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/store/snapshot_store.h"

namespace cit::dispatch {

class SnapshotWriter {
 public:
  SnapshotWriter(std::unique_ptr<SnapshotStore> store, const AlertManager* alerts);
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void Post(StoredSnapshot snapshot);
  // Stores what is queued, then stops the thread.
  void Stop();
  // Waits until everything posted before the call is stored or dropped (tests).
  void Flush();

  uint64_t written() const { return written_.load(); }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  void Loop();

  std::unique_ptr<SnapshotStore> store_;  // writer thread only
  const AlertManager* alerts_;

  std::mutex mu_;
  std::condition_variable cv_;                    // work or stop
  std::condition_variable done_cv_;               // a batch finished
  std::map<std::string, StoredSnapshot> queued_;  // latest per vehicle
  uint64_t posted_ = 0;
  uint64_t finished_ = 0;  // posts stored, replaced or dropped
  bool stop_ = false;
  bool joined_ = false;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_MONITOR_SNAPSHOT_WRITER_H_
