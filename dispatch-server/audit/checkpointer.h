// Writes signed checkpoints of every chain head: one at start-up (before the ports open), one
// every `interval` while something changed, and one at shutdown (after the last commit). A
// failed checkpoint (signing or hashing failed in OpenSSL, the store failed) writes nothing and
// is logged as an error (event=checkpoint_failed); the next interval tries again.
//
//   Checkpointer cp(log.get(), std::chrono::seconds(300));
//   CIT_RETURN_IF_ERROR(cp.Start());     // "startup" checkpoint, then the interval thread
//   ...
//   cp.Stop();                           // "shutdown" checkpoint
//
// Thread contract: Start/Stop from one thread; the checkpoint thread is internal.
#ifndef CIT_DISPATCH_SERVER_AUDIT_CHECKPOINTER_H_
#define CIT_DISPATCH_SERVER_AUDIT_CHECKPOINTER_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "dispatch-server/audit/checkpoint_log.h"

namespace cit::dispatch {

class Checkpointer {
 public:
  // `log` must outlive this.
  Checkpointer(CheckpointLog* log, std::chrono::milliseconds interval);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  Checkpointer(Checkpointer&&) = delete;
  Checkpointer& operator=(Checkpointer&&) = delete;

  // Writes the start-up checkpoint (its failure is returned: the server must not start without
  // an anchor) and starts the interval thread.
  absl::Status Start();
  // Stops the thread and writes the shutdown checkpoint (logged; returned). Idempotent.
  absl::Status Stop();

 private:
  void Loop();

  CheckpointLog* log_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool stopped_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_CHECKPOINTER_H_
