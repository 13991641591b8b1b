#include "vehicle-agent/socket_sensor.h"

#include <sys/stat.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <charconv>
#include <deque>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace cit::agent {
namespace {

using boost::asio::local::stream_protocol;

std::optional<uint32_t> ParseNumber(std::string_view s) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

// Splits on runs of spaces (absl::StrSplit wants absl::string_view, which differs here).
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool ValidBadge(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<cit::v1::Record> ParseSensorLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> w = Words(line);
  cit::v1::Record r;
  if (w.empty()) return absl::InvalidArgumentError("empty line");
  if (w[0] == "panic") {
    if (w.size() != 1) return absl::InvalidArgumentError("usage: panic");
    r.mutable_panic()->set_source("socket");
    return r;
  }
  if (w[0] == "door" || w[0] == "seal") {
    if (w.size() != 3)
      return absl::InvalidArgumentError(absl::StrCat("usage: ", std::string(w[0]), " <n> <state>"));
    std::optional<uint32_t> n = ParseNumber(w[1]);
    if (!n) return absl::InvalidArgumentError("bad number");
    if (w[0] == "door") {
      cit::v1::DoorState st;
      if (w[2] == "open") {
        st = cit::v1::DOOR_STATE_OPEN;
      } else if (w[2] == "closed") {
        st = cit::v1::DOOR_STATE_CLOSED;
      } else {
        return absl::InvalidArgumentError("door state must be open or closed");
      }
      r.mutable_door()->set_door(*n);
      r.mutable_door()->set_state(st);
    } else {
      cit::v1::SealState st;
      if (w[2] == "broken") {
        st = cit::v1::SEAL_STATE_BROKEN;
      } else if (w[2] == "intact") {
        st = cit::v1::SEAL_STATE_INTACT;
      } else {
        return absl::InvalidArgumentError("seal state must be broken or intact");
      }
      r.mutable_seal()->set_seal(*n);
      r.mutable_seal()->set_state(st);
    }
    return r;
  }
  if (w[0] == "crew") {
    if (w.size() != 3) return absl::InvalidArgumentError("usage: crew <badge> in|out");
    if (!ValidBadge(w[1])) return absl::InvalidArgumentError("bad badge id");
    cit::v1::CrewAction a;
    if (w[2] == "in") {
      a = cit::v1::CREW_ACTION_CHECK_IN;
    } else if (w[2] == "out") {
      a = cit::v1::CREW_ACTION_CHECK_OUT;
    } else {
      return absl::InvalidArgumentError("crew action must be in or out");
    }
    r.mutable_crew()->set_badge_id(std::string(w[1]));
    r.mutable_crew()->set_action(a);
    return r;
  }
  return absl::InvalidArgumentError("unknown command");
}

// One client connection: reads lines, replies in order. Owned by itself (shared_ptr in the
// pending handlers); `alive` turns false when the source stops.
class SocketSensorSource::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(stream_protocol::socket socket, SocketSensorSource* owner, std::shared_ptr<bool> alive)
      : socket_(std::move(socket)),
        owner_(owner),
        alive_(std::move(alive)),
        in_(kMaxLineBytes + 1) {}

  void Read() {
    auto self = shared_from_this();
    boost::asio::async_read_until(
        socket_, in_, '\n', [this, self](const boost::system::error_code& ec, size_t n) {
          if (!*alive_) return;
          if (ec) {
            if (ec == boost::asio::error::not_found) {
              // Line longer than the limit: answer and drop this client only.
              Write("error line too long\n");
              owner_->lines_rejected_++;
              closing_ = true;
            }
            return;
          }
          std::string line(boost::asio::buffers_begin(in_.data()),
                           boost::asio::buffers_begin(in_.data()) + static_cast<long>(n) - 1);
          in_.consume(n);
          Write(owner_->Handle(line) + "\n");
          Read();
        });
  }

 private:
  void Write(std::string reply) {
    out_.push_back(std::move(reply));
    if (out_.size() == 1) WriteNext();
  }
  void WriteNext() {
    auto self = shared_from_this();
    boost::asio::async_write(socket_, boost::asio::buffer(out_.front()),
                             [this, self](const boost::system::error_code& ec, size_t) {
                               if (ec || !*alive_) return;
                               out_.pop_front();
                               if (!out_.empty()) {
                                 WriteNext();
                               } else if (closing_) {
                                 boost::system::error_code ignored;
                                 socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
                               }
                             });
  }

  stream_protocol::socket socket_;
  SocketSensorSource* owner_;
  std::shared_ptr<bool> alive_;
  boost::asio::streambuf in_;
  std::deque<std::string> out_;
  bool closing_ = false;
};

SocketSensorSource::SocketSensorSource(boost::asio::io_context& io, std::filesystem::path path,
                                       uint32_t mode, SensorSink sink)
    : io_(io), path_(std::move(path)), mode_(mode), sink_(std::move(sink)) {}

SocketSensorSource::~SocketSensorSource() { Stop(); }

absl::Status SocketSensorSource::Start() {
  std::error_code fec;
  std::filesystem::remove(path_, fec);  // a stale socket from a previous run
  if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), fec);
  boost::system::error_code ec;
  acceptor_ = std::make_unique<stream_protocol::acceptor>(io_);
  acceptor_->open(stream_protocol(), ec);
  if (!ec) acceptor_->bind(stream_protocol::endpoint(path_.string()), ec);
  if (!ec) acceptor_->listen(16, ec);
  if (ec) {
    acceptor_.reset();
    return absl::UnavailableError(
        absl::StrCat("sensor socket ", path_.string(), ": ", ec.message()));
  }
  ::chmod(path_.c_str(), static_cast<mode_t>(mode_));
  spdlog::info("sensors: listening on {}", path_.string());
  Accept();
  return absl::OkStatus();
}

void SocketSensorSource::Stop() {
  *alive_ = false;
  alive_ = std::make_shared<bool>(true);
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
    acceptor_.reset();
    std::error_code fec;
    std::filesystem::remove(path_, fec);
  }
}

void SocketSensorSource::Accept() {
  auto alive = alive_;
  acceptor_->async_accept(
      [this, alive](const boost::system::error_code& ec, stream_protocol::socket socket) {
        if (!*alive) return;
        if (!ec) std::make_shared<Connection>(std::move(socket), this, alive)->Read();
        Accept();
      });
}

std::string SocketSensorSource::Handle(std::string_view line) {
  absl::StatusOr<cit::v1::Record> rec = ParseSensorLine(line);
  if (!rec.ok()) {
    ++lines_rejected_;
    spdlog::debug("sensors: rejected line: {}", rec.status().ToString());
    return absl::StrCat("error ", rec.status().message());
  }
  absl::StatusOr<uint64_t> seq = sink_(std::move(*rec));
  if (!seq.ok()) {
    ++lines_rejected_;
    return absl::StrCat("error journal: ", seq.status().message());
  }
  ++lines_ok_;
  return absl::StrCat("ok ", *seq);
}

}  // namespace cit::agent
