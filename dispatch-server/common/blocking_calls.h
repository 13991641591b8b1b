// Runs RPC handlers that block on the database for long (an `audit verify --vehicle` on
// PostgreSQL copies 300,000 records in ~5 s; a run report reads a whole run) on threads of
// their own, off gRPC's callback threads, which also carry every other call of the port, the
// operators' live alert streams among them. Bounded: at most `max_queued` calls wait for a
// thread; Submit refuses the next, and the caller answers RESOURCE_EXHAUSTED.
//
//   BlockingCalls calls(2, 64);
//   if (!calls.Submit([reactor] { ...; reactor->Finish(status); })) reactor->Finish(busy);
//   calls.Stop();   // runs what is queued, then joins (after the gRPC server's Shutdown)
//
// Thread contract: Submit and Stop from any thread; calls run on the pool's threads.
#ifndef CIT_DISPATCH_COMMON_BLOCKING_CALLS_H_
#define CIT_DISPATCH_COMMON_BLOCKING_CALLS_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cit::dispatch {

class BlockingCalls {
 public:
  // `name` names the threads (ps, perf); at least one thread.
  BlockingCalls(std::string name, int threads, size_t max_queued);
  ~BlockingCalls();
  BlockingCalls(const BlockingCalls&) = delete;
  BlockingCalls& operator=(const BlockingCalls&) = delete;

  // Queues `call`; false (nothing queued) when max_queued calls wait or after Stop.
  bool Submit(std::function<void()> call);
  // Runs the queued calls, then joins the threads. Idempotent.
  void Stop();

  size_t max_queued() const { return max_queued_; }
  // Calls waiting for a thread now.
  size_t queued() const;

 private:
  void Loop();

  const std::string name_;
  const size_t max_queued_;
  mutable std::mutex mu_;  // guards queue_, stopping_
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_COMMON_BLOCKING_CALLS_H_
