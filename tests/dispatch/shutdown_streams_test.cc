// A graceful shutdown (SIGTERM) ends the operators' endless streams at once: WatchAlerts and
// WatchFleet finish with UNAVAILABLE and a message that says to watch again (the watch's resume
// token continues where it ended), instead of being cut off when shutdown_grace runs out. The
// grace here is ten minutes, so a stream still open would hold Shutdown for that long; the test
// waits for events (each stream's end, Shutdown's return), never for a fixed time.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "cit/v1/dispatch.grpc.pb.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/run_monitoring.h"
#include "tests/dispatch/loopback_server_options.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

// Reads a server stream to its end on its own thread; the end's status is the future's value.
template <typename Message, typename Reader>
std::future<grpc::Status> ReadToEnd(std::unique_ptr<Reader> reader) {
  return std::async(std::launch::async, [reader = std::move(reader)] {
    Message m;
    while (reader->Read(&m)) {
    }
    return reader->Finish();
  });
}

TEST(ShutdownStreamsTest, WatchesEndWithUnavailableAtOnceInsteadOfWaitingOutTheGrace) {
  test::BackendDb db("sqlite");
  DispatchServerOptions o = test::LoopbackServerOptions(db);
  o.shutdown_grace = std::chrono::minutes(10);
  const RunMonitoringOptions rmo = test::LoopbackMonitoringOptions(db);
  FakeClock clock(FromUnixSeconds(1.8e9));
  auto rm = RunMonitoring::Open(rmo, &clock);
  ASSERT_TRUE(rm.ok()) << rm.status();
  DispatchServer::Builder builder(o);
  (*rm)->Register(builder);
  auto server = builder.Start();
  ASSERT_TRUE(server.ok()) << server.status();
  (*rm)->Start();

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->operator_port()),
                                     grpc::InsecureChannelCredentials());
  auto alerts = cit::v1::Alerts::NewStub(channel);
  auto dispatch = cit::v1::Dispatch::NewStub(channel);
  grpc::ClientContext alerts_ctx, fleet_ctx;
  auto alert_watch = ReadToEnd<cit::v1::AlertEvent>(
      alerts->WatchAlerts(&alerts_ctx, cit::v1::WatchAlertsRequest()));
  auto fleet_watch = ReadToEnd<cit::v1::VehicleState>(
      dispatch->WatchFleet(&fleet_ctx, cit::v1::WatchFleetRequest()));
  // Both streams are open on the server before the shutdown starts.
  ASSERT_TRUE(cit::test::WaitFor([&] { return (*rm)->alerts_service().watchers() == 1; },
                                 std::chrono::seconds(60)));
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(60)));

  auto shutdown = std::async(std::launch::async, [&] { (*server)->Shutdown(); });
  // A stream cut off by the grace would end CANCELLED after ten minutes; the bound only keeps a
  // regression from hanging the suite (then the test cancels the streams itself and fails).
  const auto bound = std::chrono::seconds(120);
  const bool ended = alert_watch.wait_for(bound) == std::future_status::ready &&
                     fleet_watch.wait_for(bound) == std::future_status::ready;
  if (!ended) {
    alerts_ctx.TryCancel();
    fleet_ctx.TryCancel();
  }
  EXPECT_TRUE(ended) << "the watches were still open after the shutdown began";
  for (const grpc::Status& end : {alert_watch.get(), fleet_watch.get()}) {
    EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE) << end.error_message();
    EXPECT_NE(end.error_message().find("shutting down"), std::string::npos) << end.error_message();
    EXPECT_NE(end.error_message().find("again"), std::string::npos) << end.error_message();
  }
  // The client's channel goes too: a graceful shutdown also waits for every idle connection
  // to answer its GOAWAY, which an idle client process does not do until it makes a call.
  alerts.reset();
  dispatch.reset();
  channel.reset();
  shutdown.wait();
  EXPECT_EQ((*rm)->alerts_service().watchers(), 0);
  (*rm)->Stop();
}

}  // namespace
}  // namespace cit::dispatch
