// The server switches off absl's debug-mode lock-order graph (server/lock_graph.h): Debian's
// abseil keeps it on, and with thousands of vehicle connections its look-ups cost a fifth of the
// gRPC threads' CPU. The graph, when on, aborts the process at the first lock-order inversion it
// sees; after the server started, an inversion of two absl mutexes must pass unnoticed.
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "dispatch-server/server/dispatch_server.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

TEST(LockGraphTest, StartingTheServerStopsAbslLockOrderTracking) {
  test::TempDir dir;
  DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:0";
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.insecure_dev = true;
  o.database_path = dir / "dispatch.db";
  auto server = DispatchServer::Builder(o).Start();
  ASSERT_TRUE(server.ok()) << server.status();

  // a then b, later b then a: with the graph on (absl's debug default: kAbort) the second
  // order aborts the test here ("Potential Mutex deadlock").
  absl::Mutex a, b;
  {
    absl::MutexLock la(&a);
    absl::MutexLock lb(&b);
  }
  {
    absl::MutexLock lb(&b);
    absl::MutexLock la(&a);
  }
  (*server)->Shutdown();
  SUCCEED() << "lock-order inversion not tracked";
}

}  // namespace
}  // namespace cit::dispatch
