// Agent: wires the vehicle-agent together on one Boost.Asio io_context: gpsd source, sensor
// sources, recorder + journal, uplink, heartbeat timer and SIGTERM/SIGINT handling.
//
//   cit::agent::AgentConfig cfg = ...;
//   cit::agent::Agent agent(cfg);
//   absl::Status s = agent.Run();   // returns after SIGTERM/SIGINT or Stop()
//
// gRPC runs its own threads for the channel; everything else runs on the thread calling Run().
//
// Thread contract: construct and Run() on one thread; Stop() may be called from any thread.
#ifndef CIT_VEHICLE_AGENT_AGENT_H_
#define CIT_VEHICLE_AGENT_AGENT_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "vehicle-agent/config.h"
#include "vehicle-agent/gpio_sensor.h"
#include "vehicle-agent/gps_source.h"
#include "vehicle-agent/journal.h"
#include "vehicle-agent/recorder.h"
#include "vehicle-agent/sensor_source.h"
#include "vehicle-agent/uplink.h"

namespace cit::agent {

class Agent final {
 public:
  // `gpio_provider` defaults to libgpiod; tests pass a fake.
  explicit Agent(AgentConfig config, GpioLineProvider* gpio_provider = nullptr);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  Agent(Agent&&) = delete;
  Agent& operator=(Agent&&) = delete;

  absl::Status Run();
  void Stop();

 private:
  void ArmHeartbeat();
  void Shutdown();

  AgentConfig config_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer heartbeat_;
  LibgpiodLineProvider libgpiod_;
  GpioLineProvider* gpio_provider_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<Uplink> uplink_;
  std::unique_ptr<GpsSource> gps_;
  std::vector<std::unique_ptr<SensorSource>> sensors_;
};

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_AGENT_H_
