// Records run activations (dispatched -> active, detected by the monitor when the truck leaves
// its depot) in the RunManager off the monitor thread. The run store write costs an fsync and
// may wait behind the ingest's commit; the monitor sits between every record and its alert and
// must never wait on the disk.
//
//   RunActivationWriter writer(&run_manager);  // starts its thread
//   monitor.SetRunActivatedCallback(
//       [&](const std::string& run, SysTime t) { writer.Post(run, t); });
//   ...
//   writer.Stop();  // writes what is queued, joins (also done by the destructor)
//
// Thread contract: Post from any thread (never blocks on the disk); Stop from the owner.
#ifndef CIT_DISPATCH_SERVER_PLANS_RUN_ACTIVATION_WRITER_H_
#define CIT_DISPATCH_SERVER_PLANS_RUN_ACTIVATION_WRITER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "dispatch-server/common/clock.h"
#include "dispatch-server/plans/run_manager.h"

namespace cit::dispatch {

class RunActivationWriter {
 public:
  // `runs` must outlive the writer.
  explicit RunActivationWriter(RunManager* runs);
  ~RunActivationWriter();
  RunActivationWriter(const RunActivationWriter&) = delete;
  RunActivationWriter& operator=(const RunActivationWriter&) = delete;

  void Post(std::string run_id, SysTime started);
  void Stop();

 private:
  void Loop();

  RunManager* runs_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, SysTime>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_RUN_ACTIVATION_WRITER_H_
