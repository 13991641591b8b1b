// Sensor inputs: the Unix-socket line protocol over a real socket, and GPIO debounce through a
// fake line provider (the only mock: GPIO hardware cannot run in CI).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "tests/support/test_env.h"
#include "vehicle-agent/gpio_sensor.h"
#include "vehicle-agent/socket_sensor.h"

namespace cit::agent {
namespace {

TEST(SensorLineTest, ParsesEveryCommandOfTheProtocol) {
  auto door = ParseSensorLine("door 1 open");
  ASSERT_TRUE(door.ok());
  EXPECT_EQ(door->door().door(), 1u);
  EXPECT_EQ(door->door().state(), cit::v1::DOOR_STATE_OPEN);
  EXPECT_EQ(ParseSensorLine("door 3 closed")->door().state(), cit::v1::DOOR_STATE_CLOSED);
  auto seal = ParseSensorLine("seal 2 broken");
  ASSERT_TRUE(seal.ok());
  EXPECT_EQ(seal->seal().seal(), 2u);
  EXPECT_EQ(seal->seal().state(), cit::v1::SEAL_STATE_BROKEN);
  EXPECT_EQ(ParseSensorLine("seal 2 intact")->seal().state(), cit::v1::SEAL_STATE_INTACT);
  EXPECT_TRUE(ParseSensorLine("panic")->has_panic());
  EXPECT_EQ(ParseSensorLine("panic")->panic().source(), "socket");
  auto crew = ParseSensorLine("crew 4711 in");
  ASSERT_TRUE(crew.ok());
  EXPECT_EQ(crew->crew().badge_id(), "4711");
  EXPECT_EQ(crew->crew().action(), cit::v1::CREW_ACTION_CHECK_IN);
  EXPECT_EQ(ParseSensorLine("crew 4711 out")->crew().action(), cit::v1::CREW_ACTION_CHECK_OUT);
  EXPECT_TRUE(ParseSensorLine("door 1 open\r").ok());  // CRLF clients
}

TEST(SensorLineTest, RejectsMalformedLines) {
  for (const char* bad :
       {"", "door", "door 1", "door x open", "door 0 open", "door 1 ajar", "seal 2 cracked",
        "panic now", "crew in", "crew 47 11 in", "crew 4711 sideways", "crew bad!id in", "reboot",
        "door -1 open", "door 99999999999 open"}) {
    EXPECT_FALSE(ParseSensorLine(bad).ok()) << "accepted: '" << bad << "'";
  }
}

// Runs an io_context on a thread for the duration of a test.
class IoThread {
 public:
  IoThread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }
  template <typename F>
  auto Run(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Collects records; seq = position + 1.
struct Collected {
  std::mutex mu;
  std::vector<cit::v1::Record> records;
  size_t size() {
    std::lock_guard l(mu);
    return records.size();
  }
};

SensorSink CollectInto(Collected& c) {
  return [&c](cit::v1::Record r) -> absl::StatusOr<uint64_t> {
    std::lock_guard l(c.mu);
    c.records.push_back(std::move(r));
    return c.records.size();
  };
}

class LineClient {
 public:
  explicit LineClient(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~LineClient() { ::close(fd_); }
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;
  bool connected() const { return connected_; }
  void Send(const std::string& text) {
    ASSERT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  // Reads one reply line ("" on EOF).
  std::string ReadLine() {
    std::string line;
    char c;
    while (::read(fd_, &c, 1) == 1) {
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST(SocketSensorTest, RepliesOkWithSeqOrErrorAndKeepsServing) {
  test::TempDir dir;
  IoThread io;
  Collected got;
  const auto path = dir / "sensors.sock";
  SocketSensorSource src(io.io(), path, 0660, CollectInto(got));
  ASSERT_TRUE(io.Run([&] { return src.Start(); }).ok());

  LineClient a(path);
  ASSERT_TRUE(a.connected());
  a.Send("door 1 open\n");
  EXPECT_EQ(a.ReadLine(), "ok 1");
  a.Send("bogus line\n");
  EXPECT_EQ(a.ReadLine().rfind("error ", 0), 0u);
  a.Send("seal 2 broken\npanic\ncrew 4711 in\n");  // pipelined
  EXPECT_EQ(a.ReadLine(), "ok 2");
  EXPECT_EQ(a.ReadLine(), "ok 3");
  EXPECT_EQ(a.ReadLine(), "ok 4");
  a.Send("door 1\n");
  EXPECT_EQ(a.ReadLine().rfind("error ", 0), 0u);

  // A second client is served alongside the first.
  LineClient b(path);
  b.Send("door 1 closed\n");
  EXPECT_EQ(b.ReadLine(), "ok 5");

  // An over-long line drops only that client; others and the source carry on.
  LineClient c(path);
  c.Send(std::string(1000, 'x'));
  EXPECT_EQ(c.ReadLine(), "error line too long");
  a.Send("crew 4711 out\n");
  EXPECT_EQ(a.ReadLine(), "ok 6");

  EXPECT_EQ(io.Run([&] { return src.lines_ok(); }), 6u);
  EXPECT_EQ(io.Run([&] { return src.lines_rejected(); }), 3u);
  std::lock_guard l(got.mu);
  ASSERT_EQ(got.records.size(), 6u);
  EXPECT_TRUE(got.records[0].has_door());
  EXPECT_TRUE(got.records[1].has_seal());
  EXPECT_TRUE(got.records[2].has_panic());
  EXPECT_EQ(got.records[3].crew().badge_id(), "4711");
  io.Run([&] {
    src.Stop();
    return 0;
  });
}

// A GPIO line backed by a pipe: the test sets the level and "raises an edge" by writing a byte.
class FakeLine final : public GpioLine {
 public:
  FakeLine() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) std::abort();
    read_fd_ = fds[0];
    write_fd_ = fds[1];
  }
  ~FakeLine() override {
    ::close(read_fd_);
    ::close(write_fd_);
  }
  FakeLine(const FakeLine&) = delete;
  FakeLine& operator=(const FakeLine&) = delete;
  FakeLine(FakeLine&&) = delete;
  FakeLine& operator=(FakeLine&&) = delete;

  int event_fd() const override { return read_fd_; }
  void DrainEvents() override {
    char buf[64];
    while (::read(read_fd_, buf, sizeof buf) > 0) {
    }
  }
  absl::StatusOr<bool> Active() override { return level_.load(); }
  void Edge(bool level) {
    level_ = level;
    char c = 1;
    if (::write(write_fd_, &c, 1) != 1) std::abort();
  }
  void SetLevel(bool level) { level_ = level; }

 private:
  int read_fd_, write_fd_;
  std::atomic<bool> level_{false};
};

class FakeProvider final : public GpioLineProvider {
 public:
  absl::StatusOr<std::unique_ptr<GpioLine>> Request(const std::string& chip, uint32_t line,
                                                    bool active_low, const std::string&) override {
    requests.push_back({chip, line, active_low});
    auto l = std::make_unique<FakeLine>();
    l->SetLevel(initial[line]);
    lines[line] = l.get();
    return std::unique_ptr<GpioLine>(std::move(l));
  }
  struct Req {
    std::string chip;
    uint32_t line;
    bool active_low;
  };
  std::vector<Req> requests;
  std::map<uint32_t, bool> initial;
  std::map<uint32_t, FakeLine*> lines;
};

TEST(GpioSensorTest, ReportsInitialStateAndDebouncedChanges) {
  IoThread io;
  Collected got;
  FakeProvider provider;
  provider.initial[5] = false;  // door 1 closed
  provider.initial[6] = false;  // seal 2 intact
  provider.initial[7] = false;  // panic released
  std::vector<GpioInputConfig> cfg(3);
  cfg[0] = {GpioInputConfig::Kind::kDoor, 1, "gpiochip0", 5, true, 30};
  cfg[1] = {GpioInputConfig::Kind::kSeal, 2, "gpiochip0", 6, true, 30};
  cfg[2] = {GpioInputConfig::Kind::kPanic, 0, "gpiochip1", 7, false, 30};
  GpioSensorSource src(io.io(), cfg, provider, CollectInto(got));
  ASSERT_TRUE(io.Run([&] { return src.Start(); }).ok());
  ASSERT_EQ(provider.requests.size(), 3u);
  EXPECT_TRUE(provider.requests[0].active_low);
  EXPECT_FALSE(provider.requests[2].active_low);
  EXPECT_EQ(provider.requests[2].chip, "gpiochip1");
  // Initial door and seal state recorded; a released panic button is not an event.
  ASSERT_EQ(got.size(), 2u);

  // Contact bounce: open/closed/open within the debounce window -> one "open".
  provider.lines[5]->Edge(true);
  provider.lines[5]->Edge(false);
  provider.lines[5]->Edge(true);
  ASSERT_TRUE(test::WaitFor([&] { return got.size() == 3; }));
  // A bounce that ends where it began is no event at all.
  provider.lines[6]->Edge(true);
  provider.lines[6]->Edge(false);
  // Panic press, then release: one panic record.
  provider.lines[7]->Edge(true);
  ASSERT_TRUE(test::WaitFor([&] { return got.size() == 4; }));
  provider.lines[7]->Edge(false);
  provider.lines[5]->Edge(false);  // door closes
  ASSERT_TRUE(test::WaitFor([&] { return got.size() == 5; }));
  // Barrier: a marker edge (seal 2 opens) raised after every other edge was read. All debounce
  // windows are 30 ms, so any stray timer of an earlier edge fires before the marker's: once the
  // marker is recorded, nothing else can still come.
  provider.lines[6]->Edge(true);
  ASSERT_TRUE(test::WaitFor([&] {
    std::lock_guard l(got.mu);
    return !got.records.empty() && got.records.back().has_seal() &&
           got.records.back().seal().state() == cit::v1::SEAL_STATE_BROKEN;
  }));

  std::lock_guard l(got.mu);
  ASSERT_EQ(got.records.size(), 6u) << "a stray record before the marker";
  EXPECT_EQ(got.records[0].door().state(), cit::v1::DOOR_STATE_CLOSED);
  EXPECT_EQ(got.records[1].seal().state(), cit::v1::SEAL_STATE_INTACT);
  EXPECT_EQ(got.records[2].door().state(), cit::v1::DOOR_STATE_OPEN);
  EXPECT_EQ(got.records[3].panic().source(), "gpio:gpiochip1:7");
  EXPECT_EQ(got.records[4].door().state(), cit::v1::DOOR_STATE_CLOSED);
  io.Run([&] {
    src.Stop();
    return 0;
  });
}

TEST(GpioSensorTest, PanicHeldAtStartFiresOnce) {
  IoThread io;
  Collected got;
  FakeProvider provider;
  provider.initial[3] = true;
  std::vector<GpioInputConfig> cfg(1);
  cfg[0] = {GpioInputConfig::Kind::kPanic, 0, "gpiochip0", 3, true, 10};
  GpioSensorSource src(io.io(), cfg, provider, CollectInto(got));
  ASSERT_TRUE(io.Run([&] { return src.Start(); }).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got.records[0].has_panic());
  io.Run([&] {
    src.Stop();
    return 0;
  });
}

TEST(GpioSensorTest, MissingChipIsAnErrorFromLibgpiod) {
  IoThread io;
  Collected got;
  LibgpiodLineProvider real;
  std::vector<GpioInputConfig> cfg(1);
  cfg[0] = {GpioInputConfig::Kind::kDoor, 1, "no-such-gpiochip", 3, true, 10};
  GpioSensorSource src(io.io(), cfg, real, CollectInto(got));
  EXPECT_FALSE(io.Run([&] { return src.Start(); }).ok());
  EXPECT_EQ(got.size(), 0u);
}

}  // namespace
}  // namespace cit::agent
