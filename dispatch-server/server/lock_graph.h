// absl's lock-order graph (debug-mode deadlock detection), off for the whole process.
//
// Debian's abseil is built without NDEBUG, so every absl::Mutex lock and unlock -- gRPC takes
// several per message, in the transport, the combiner and the event engine -- records a lock-order
// edge in one process-wide graph behind one global lock. The graph holds every mutex ever locked:
// with thousands of vehicle connections (dozens of mutexes each) its look-ups cost ~20% of the
// gRPC threads' CPU at 5,000 vehicles, serialise those threads, and grow with the fleet
// (docs/benchmarks.md, "Live alert latency"). It only ever watched gRPC's own locks: the
// project's code uses std::mutex, which the graph never sees.
//
//   StopAbslLockGraph();  // at start-up, before the first connection
//
// Thread contract: any thread, any time (a process-wide atomic); idempotent.
#ifndef CIT_DISPATCH_SERVER_SERVER_LOCK_GRAPH_H_
#define CIT_DISPATCH_SERVER_SERVER_LOCK_GRAPH_H_

namespace cit::dispatch {

// Sets absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore).
void StopAbslLockGraph();

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_LOCK_GRAPH_H_
