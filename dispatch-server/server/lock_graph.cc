#include "dispatch-server/server/lock_graph.h"

#include "absl/synchronization/mutex.h"

namespace cit::dispatch {

void StopAbslLockGraph() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace cit::dispatch
