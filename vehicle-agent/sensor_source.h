// SensorSource: one interface for every door/seal/panic/crew input of the truck, whether wired to
// GPIO lines (GpioSensorSource) or reported by another in-vehicle system over the local socket
// (SocketSensorSource). A source turns input changes into records and hands them to a sink,
// which journals them and returns the seq.
//
//   cit::agent::SensorSink sink = [&](cit::v1::Record r) { return recorder.Add(std::move(r)); };
//   std::unique_ptr<cit::agent::SensorSource> s =
//       std::make_unique<cit::agent::SocketSensorSource>(io, "/run/vehicle-agent/sensors.sock",
//                                                        0660, sink);
//   absl::Status st = s->Start();
//
// Thread contract: sources live on the agent's io_context thread and call the sink there.
#ifndef CIT_VEHICLE_AGENT_SENSOR_SOURCE_H_
#define CIT_VEHICLE_AGENT_SENSOR_SOURCE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/telemetry.pb.h"

namespace cit::agent {

using SensorSink = std::function<absl::StatusOr<uint64_t>(cit::v1::Record)>;

class SensorSource {
 public:
  virtual ~SensorSource() = default;
  // Starts listening; an error means the source could not be set up at all.
  virtual absl::Status Start() = 0;
  virtual void Stop() = 0;
  virtual std::string name() const = 0;
};

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_SENSOR_SOURCE_H_
