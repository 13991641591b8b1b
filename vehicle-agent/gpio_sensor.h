// GpioSensorSource: door and seal contacts and the panic button on Linux GPIO lines (libgpiod
// v1.6). Each configured line is requested for both edges; an edge (re)starts a debounce timer
// and when it fires the line's level is read: a level that differs from the last reported one
// becomes a record (door open/closed, seal broken/intact, panic on activation). Initial door and
// seal levels are recorded at start so the server knows the state from the first minute.
//
//   LibgpiodLineProvider lines;
//   GpioSensorSource gpio(io, cfg.sensors.gpio, lines, sink);
//   gpio.Start();
//
// GpioLineProvider is the seam for tests (hardware cannot run in CI): a fake provider hands out
// lines backed by a pipe, so the real debounce and asio paths are exercised.
//
// Thread contract: io_context thread only.
#ifndef CIT_VEHICLE_AGENT_GPIO_SENSOR_H_
#define CIT_VEHICLE_AGENT_GPIO_SENSOR_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vehicle-agent/config.h"
#include "vehicle-agent/sensor_source.h"

namespace cit::agent {

// One requested input line.
class GpioLine {
 public:
  virtual ~GpioLine() = default;
  // Readable when edge events are pending.
  virtual int event_fd() const = 0;
  // Consumes pending edge events (their direction is not trusted: bounce; the level is).
  virtual void DrainEvents() = 0;
  // Logical level after active-low inversion: true = contact active (door open, seal broken,
  // panic pressed).
  virtual absl::StatusOr<bool> Active() = 0;
};

class GpioLineProvider {
 public:
  virtual ~GpioLineProvider() = default;
  virtual absl::StatusOr<std::unique_ptr<GpioLine>> Request(const std::string& chip, uint32_t line,
                                                            bool active_low,
                                                            const std::string& consumer) = 0;
};

// The real provider: libgpiod 1.6 (gpiod_chip_open_lookup, both-edge events, ACTIVE_LOW flag).
class LibgpiodLineProvider final : public GpioLineProvider {
 public:
  absl::StatusOr<std::unique_ptr<GpioLine>> Request(const std::string& chip, uint32_t line,
                                                    bool active_low,
                                                    const std::string& consumer) override;
};

class GpioSensorSource final : public SensorSource {
 public:
  GpioSensorSource(boost::asio::io_context& io, std::vector<GpioInputConfig> inputs,
                   GpioLineProvider& provider, SensorSink sink);
  ~GpioSensorSource() override;
  GpioSensorSource(const GpioSensorSource&) = delete;
  GpioSensorSource& operator=(const GpioSensorSource&) = delete;
  GpioSensorSource(GpioSensorSource&&) = delete;
  GpioSensorSource& operator=(GpioSensorSource&&) = delete;

  absl::Status Start() override;
  void Stop() override;
  std::string name() const override { return "gpio"; }

 private:
  struct Input {
    GpioInputConfig config;
    std::unique_ptr<GpioLine> line;
    std::unique_ptr<boost::asio::posix::stream_descriptor> fd;
    std::unique_ptr<boost::asio::steady_timer> debounce;
    std::optional<bool> reported;  // last level turned into a record
  };
  void Wait(Input& in);
  void Settle(Input& in);
  void Report(Input& in, bool active);

  boost::asio::io_context& io_;
  std::vector<GpioInputConfig> configs_;
  GpioLineProvider& provider_;
  SensorSink sink_;
  std::vector<std::unique_ptr<Input>> inputs_;
};

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_GPIO_SENSOR_H_
