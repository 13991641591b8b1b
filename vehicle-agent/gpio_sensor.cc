#include "vehicle-agent/gpio_sensor.h"

#include <gpiod.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace cit::agent {
namespace {

struct ChipCloser {
  void operator()(gpiod_chip* c) const { gpiod_chip_close(c); }
};

class LibgpiodLine final : public GpioLine {
 public:
  LibgpiodLine(std::unique_ptr<gpiod_chip, ChipCloser> chip, gpiod_line* line)
      : chip_(std::move(chip)), line_(line) {}
  ~LibgpiodLine() override { gpiod_line_release(line_); }
  LibgpiodLine(const LibgpiodLine&) = delete;
  LibgpiodLine& operator=(const LibgpiodLine&) = delete;
  LibgpiodLine(LibgpiodLine&&) = delete;
  LibgpiodLine& operator=(LibgpiodLine&&) = delete;

  int event_fd() const override { return gpiod_line_event_get_fd(line_); }
  void DrainEvents() override {
    gpiod_line_event ev{};
    const timespec zero{0, 0};
    while (gpiod_line_event_wait(line_, &zero) == 1) {
      if (gpiod_line_event_read(line_, &ev) != 0) break;
    }
  }
  absl::StatusOr<bool> Active() override {
    const int v = gpiod_line_get_value(line_);
    if (v < 0) return absl::UnavailableError(absl::StrCat("gpio read: ", std::strerror(errno)));
    return v == 1;
  }

 private:
  std::unique_ptr<gpiod_chip, ChipCloser> chip_;
  gpiod_line* line_;  // owned by chip_; released in the destructor
};

const char* KindName(GpioInputConfig::Kind k) {
  switch (k) {
    case GpioInputConfig::Kind::kDoor:
      return "door";
    case GpioInputConfig::Kind::kSeal:
      return "seal";
    case GpioInputConfig::Kind::kPanic:
      return "panic";
  }
  return "?";
}

}  // namespace

absl::StatusOr<std::unique_ptr<GpioLine>> LibgpiodLineProvider::Request(
    const std::string& chip_name, uint32_t offset, bool active_low, const std::string& consumer) {
  std::unique_ptr<gpiod_chip, ChipCloser> chip(gpiod_chip_open_lookup(chip_name.c_str()));
  if (!chip) {
    return absl::NotFoundError(absl::StrCat("gpio chip ", chip_name, ": ", std::strerror(errno)));
  }
  gpiod_line* line = gpiod_chip_get_line(chip.get(), offset);
  if (line == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("gpio ", chip_name, " line ", offset, ": ", std::strerror(errno)));
  }
  const int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
  if (gpiod_line_request_both_edges_events_flags(line, consumer.c_str(), flags) != 0) {
    return absl::UnavailableError(
        absl::StrCat("gpio ", chip_name, " line ", offset, " request: ", std::strerror(errno)));
  }
  return std::unique_ptr<GpioLine>(new LibgpiodLine(std::move(chip), line));
}

GpioSensorSource::GpioSensorSource(boost::asio::io_context& io, std::vector<GpioInputConfig> inputs,
                                   GpioLineProvider& provider, SensorSink sink)
    : io_(io), configs_(std::move(inputs)), provider_(provider), sink_(std::move(sink)) {}

GpioSensorSource::~GpioSensorSource() { Stop(); }

absl::Status GpioSensorSource::Start() {
  for (const GpioInputConfig& c : configs_) {
    absl::StatusOr<std::unique_ptr<GpioLine>> line =
        provider_.Request(c.chip, c.line, c.active_low, "vehicle-agent");
    if (!line.ok()) return line.status();
    auto in = std::make_unique<Input>();
    in->config = c;
    in->line = std::move(*line);
    in->fd = std::make_unique<boost::asio::posix::stream_descriptor>(io_, in->line->event_fd());
    in->debounce = std::make_unique<boost::asio::steady_timer>(io_);
    Input& ref = *in;
    inputs_.push_back(std::move(in));
    spdlog::info("sensors: gpio {} {} on {} line {}{}", KindName(c.kind), c.number, c.chip, c.line,
                 c.active_low ? " (active low)" : "");
    // Initial state: doors and seals report their level; a held panic button fires once.
    absl::StatusOr<bool> level = ref.line->Active();
    if (level.ok() && (c.kind != GpioInputConfig::Kind::kPanic || *level)) Report(ref, *level);
    if (level.ok()) ref.reported = *level;
    Wait(ref);
  }
  return absl::OkStatus();
}

void GpioSensorSource::Stop() {
  for (auto& in : inputs_) {
    in->debounce->cancel();
    in->fd->cancel();
    in->fd->release();  // the fd belongs to the line
  }
  inputs_.clear();
}

void GpioSensorSource::Wait(Input& in) {
  in.fd->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this, &in](const boost::system::error_code& ec) {
                      if (ec) return;
                      in.line->DrainEvents();
                      // Every edge restarts the debounce window; the level counts once stable.
                      in.debounce->expires_after(std::chrono::milliseconds(in.config.debounce_ms));
                      in.debounce->async_wait([this, &in](const boost::system::error_code& e) {
                        if (!e) Settle(in);
                      });
                      Wait(in);
                    });
}

void GpioSensorSource::Settle(Input& in) {
  absl::StatusOr<bool> level = in.line->Active();
  if (!level.ok()) {
    spdlog::warn("sensors: {}", level.status().ToString());
    return;
  }
  if (in.reported && *in.reported == *level) return;  // bounced back: nothing happened
  in.reported = *level;
  if (in.config.kind == GpioInputConfig::Kind::kPanic && !*level) return;  // release
  Report(in, *level);
}

void GpioSensorSource::Report(Input& in, bool active) {
  cit::v1::Record r;
  switch (in.config.kind) {
    case GpioInputConfig::Kind::kDoor:
      r.mutable_door()->set_door(in.config.number);
      r.mutable_door()->set_state(active ? cit::v1::DOOR_STATE_OPEN : cit::v1::DOOR_STATE_CLOSED);
      break;
    case GpioInputConfig::Kind::kSeal:
      r.mutable_seal()->set_seal(in.config.number);
      r.mutable_seal()->set_state(active ? cit::v1::SEAL_STATE_BROKEN : cit::v1::SEAL_STATE_INTACT);
      break;
    case GpioInputConfig::Kind::kPanic:
      r.mutable_panic()->set_source(absl::StrCat("gpio:", in.config.chip, ":", in.config.line));
      break;
  }
  absl::StatusOr<uint64_t> seq = sink_(std::move(r));
  if (!seq.ok()) spdlog::error("sensors: gpio record lost: {}", seq.status().ToString());
}

}  // namespace cit::agent
