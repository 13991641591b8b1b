// SocketSensorSource: a local Unix-socket line protocol for in-vehicle systems (and tests) to
// report inputs. One command per line; every line gets exactly one reply line:
//
//   door <n> open|closed     seal <n> broken|intact     panic     crew <badge> in|out
//   -> "ok <seq>"  (journalled as record <seq>)    or    "error <reason>"
//
// Unknown or malformed lines are answered with an error and counted; they never stop the agent
// or close the connection. Lines longer than kMaxLineBytes close that connection.
//
//   SocketSensorSource src(io, "/run/vehicle-agent/sensors.sock", 0660, sink);
//   src.Start();
//   // shell:  echo "door 1 open" | socat - UNIX-CONNECT:/run/vehicle-agent/sensors.sock
//
// Thread contract: io_context thread only.
#ifndef CIT_VEHICLE_AGENT_SOCKET_SENSOR_H_
#define CIT_VEHICLE_AGENT_SOCKET_SENSOR_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "vehicle-agent/sensor_source.h"

namespace cit::agent {

inline constexpr size_t kMaxLineBytes = 256;

// Parses one protocol line (without the newline) into a record with its payload set.
absl::StatusOr<cit::v1::Record> ParseSensorLine(std::string_view line);

class SocketSensorSource final : public SensorSource {
 public:
  SocketSensorSource(boost::asio::io_context& io, std::filesystem::path path, uint32_t mode,
                     SensorSink sink);
  ~SocketSensorSource() override;
  SocketSensorSource(const SocketSensorSource&) = delete;
  SocketSensorSource& operator=(const SocketSensorSource&) = delete;
  SocketSensorSource(SocketSensorSource&&) = delete;
  SocketSensorSource& operator=(SocketSensorSource&&) = delete;

  absl::Status Start() override;
  void Stop() override;
  std::string name() const override { return "socket:" + path_.string(); }

  uint64_t lines_ok() const { return lines_ok_; }
  uint64_t lines_rejected() const { return lines_rejected_; }

 private:
  class Connection;
  void Accept();
  std::string Handle(std::string_view line);

  boost::asio::io_context& io_;
  std::filesystem::path path_;
  uint32_t mode_;
  SensorSink sink_;
  std::unique_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t lines_ok_ = 0;
  uint64_t lines_rejected_ = 0;
};

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_SOCKET_SENSOR_H_
