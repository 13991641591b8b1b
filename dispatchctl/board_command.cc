#include "dispatchctl/board_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_format.h"
#include "dispatchctl/alert_board.h"
#include "dispatchctl/alert_place.h"
#include "dispatchctl/plan_fetch.h"

namespace cit::ctl {
namespace {

// Raw keyboard input for the board's lifetime; the terminal is restored however it ends.
class RawTerminal {
 public:
  RawTerminal() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
    raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    std::cout << "\033[0m\r\n" << std::flush;
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// What the stream thread hands to the screen thread; `wake` interrupts the screen's poll().
struct Inbox {
  std::mutex mu;
  // Each event with its place (the stream thread reads plans, so the screen never waits).
  std::deque<std::pair<cit::v1::AlertEvent, std::string>> events;
  std::string link;  // "" while connected, else why not
  grpc::ClientContext* stream = nullptr;
  bool stop = false;
  std::condition_variable stopped;
  int wake[2] = {-1, -1};

  void Wake() {
    const char byte = 1;
    (void)!write(wake[1], &byte, 1);
  }
};

// Follows WatchAlerts until inbox.stop, reconnecting and resuming after the last event seen.
void FollowAlerts(const Connection& conn, const BoardOptions& o, Inbox& inbox) {
  uint64_t cursor = 0;
  std::string token;  // the last event's resume token (any instance); the id for older servers
  auto backoff = std::chrono::milliseconds(250);
  // A plan that cannot be read leaves the row with latitude/longitude only; nothing is printed
  // over the screen.
  PlaceFinder places(PlanFetcher(conn));
  while (true) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx, /*streaming=*/true);
    ctx.set_wait_for_ready(true);
    {
      std::lock_guard<std::mutex> lock(inbox.mu);
      if (inbox.stop) return;
      inbox.stream = &ctx;
    }
    cit::v1::WatchAlertsRequest req;
    if (token.empty()) {
      req.set_after_event_id(cursor);
    } else {
      req.set_resume_token(token);
    }
    if (o.min_severity) req.set_min_severity(*o.min_severity);
    for (const std::string& v : o.vehicles) req.add_vehicle_ids(v);
    auto reader = conn.alerts().WatchAlerts(&ctx, req);
    cit::v1::AlertEvent event;
    while (reader->Read(&event)) {
      backoff = std::chrono::milliseconds(250);
      cursor = event.event_id();
      if (!event.resume_token().empty()) token = event.resume_token();
      if (!o.kinds.empty() &&
          std::find(o.kinds.begin(), o.kinds.end(), event.alert().kind()) == o.kinds.end()) {
        continue;
      }
      std::string place = places.Describe(event.alert());
      const cit::v1::Position& at = event.alert().position();
      if (place.empty() && (at.lat_deg() != 0 || at.lon_deg() != 0)) {
        place = absl::StrFormat("at %.5f,%.5f", at.lat_deg(), at.lon_deg());
      }
      std::lock_guard<std::mutex> lock(inbox.mu);
      inbox.link.clear();
      inbox.events.emplace_back(event, std::move(place));
      inbox.Wake();
    }
    const grpc::Status status = reader->Finish();
    std::unique_lock<std::mutex> lock(inbox.mu);
    inbox.stream = nullptr;
    if (inbox.stop) return;
    inbox.link = "server link lost (" + status.error_message() + "); reconnecting";
    inbox.Wake();
    inbox.stopped.wait_for(lock, backoff, [&] { return inbox.stop; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

std::pair<int, int> TerminalSize() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {80, 24};
}

std::string Clock(TimeZoneChoice zone) {
  google::protobuf::Timestamp now;
  now.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
  const std::string text = WallClockText(now, zone);
  return zone == TimeZoneChoice::kUtc ? text : text.substr(11);  // time and zone only
}

// Acknowledges or resolves `id` with `comment`; what happened, for the status line.
std::string Act(const Connection& conn, bool resolve, uint64_t id, const std::string& comment) {
  cit::v1::Alert alert;
  const grpc::Status status = conn.ActOnAlert(resolve, id, comment, &alert);
  const std::string what = resolve ? "resolve" : "acknowledge";
  if (!status.ok())
    return "could not " + what + " #" + std::to_string(id) + ": " + status.error_message();
  return (resolve ? "resolved #" : "acknowledged #") + std::to_string(id);
}

// Keys the board understands, decoded from raw terminal bytes.
enum class Key { kNone, kUp, kDown, kPageUp, kPageDown, kEnter, kEscape, kBackspace, kChar };

struct KeyPress {
  Key key = Key::kNone;
  char c = 0;
};

std::vector<KeyPress> Decode(const std::string& bytes) {
  std::vector<KeyPress> keys;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\033') {
      const std::string_view rest = std::string_view(bytes).substr(i);
      if (rest.starts_with("\033[A") || rest.starts_with("\033OA")) {
        keys.push_back({Key::kUp});
        i += 2;
      } else if (rest.starts_with("\033[B") || rest.starts_with("\033OB")) {
        keys.push_back({Key::kDown});
        i += 2;
      } else if (rest.starts_with("\033[5~")) {
        keys.push_back({Key::kPageUp});
        i += 3;
      } else if (rest.starts_with("\033[6~")) {
        keys.push_back({Key::kPageDown});
        i += 3;
      } else if (rest.size() > 1 && rest[1] == '[') {
        // Another sequence (arrows left/right, function keys): skip it.
        std::size_t end = i + 2;
        while (end < bytes.size() && !(bytes[end] >= '@' && bytes[end] <= '~')) ++end;
        i = end;
      } else {
        keys.push_back({Key::kEscape});
      }
    } else if (c == '\r' || c == '\n') {
      keys.push_back({Key::kEnter});
    } else if (c == 0x7f || c == 0x08) {
      keys.push_back({Key::kBackspace});
    } else {
      keys.push_back({Key::kChar, c});
    }
  }
  return keys;
}

// The screen thread's state: the board, and a comment being typed for an action.
struct Screen {
  AlertBoard board;
  std::optional<bool> typing_resolve;  // set while typing a comment: resolve or acknowledge
  uint64_t typing_for = 0;
  std::string comment;
  std::string status;
  bool quit = false;
};

constexpr std::size_t kMaxComment = 500;

void HandleKey(const KeyPress& k, const Connection& conn, Screen& s, int page) {
  if (s.typing_resolve) {
    if (k.key == Key::kEscape) {
      s.typing_resolve.reset();
      s.status = "cancelled";
    } else if (k.key == Key::kEnter) {
      s.status = Act(conn, *s.typing_resolve, s.typing_for, s.comment);
      s.typing_resolve.reset();
    } else if (k.key == Key::kBackspace) {
      if (!s.comment.empty()) s.comment.pop_back();
    } else if (k.key == Key::kChar && k.c >= ' ' && s.comment.size() < kMaxComment) {
      s.comment += k.c;
    }
    return;
  }
  switch (k.key) {
    case Key::kUp:
      s.board.MoveSelection(-1);
      break;
    case Key::kDown:
      s.board.MoveSelection(1);
      break;
    case Key::kPageUp:
      s.board.MoveSelection(-page);
      break;
    case Key::kPageDown:
      s.board.MoveSelection(page);
      break;
    case Key::kChar:
      if (k.c == 'q' || k.c == 0x03) {  // q or Ctrl-C
        s.quit = true;
      } else if (k.c == 'k') {
        s.board.MoveSelection(-1);
      } else if (k.c == 'j') {
        s.board.MoveSelection(1);
      } else if ((k.c == 'a' || k.c == 'r') && s.board.Selected()) {
        s.typing_resolve = k.c == 'r';
        s.typing_for = *s.board.Selected();
        s.comment.clear();
      }
      break;
    default:
      break;
  }
}

std::string StatusLine(const Screen& s, const std::string& link) {
  if (s.typing_resolve) {
    return std::string(*s.typing_resolve ? "Resolve" : "Acknowledge") + " #" +
           std::to_string(s.typing_for) + " - comment (Enter sends, Esc cancels): " + s.comment;
  }
  return link.empty() ? s.status : link;
}

}  // namespace

int RunAlertBoard(const Connection& conn, const BoardOptions& o) {
  if (isatty(STDIN_FILENO) == 0 || isatty(STDOUT_FILENO) == 0) {
    std::cerr << "dispatchctl: watch --board needs a terminal (stdin and stdout); in scripts use "
                 "`dispatchctl watch` or `dispatchctl --json watch`\n";
    return 2;
  }
  Inbox inbox;
  if (pipe2(inbox.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::cerr << "dispatchctl: watch --board: pipe() failed\n";
    return 7;
  }
  Screen s;
  {
    RawTerminal raw;
    std::thread stream([&] { FollowAlerts(conn, o, inbox); });
    std::string last_drawn;
    while (!s.quit) {
      std::string link;
      {
        std::lock_guard<std::mutex> lock(inbox.mu);
        for (const auto& [e, place] : inbox.events) s.board.Apply(e, place);
        inbox.events.clear();
        link = inbox.link;
      }
      const auto [width, height] = TerminalSize();
      BoardView view{.width = width,
                     .height = height,
                     .zone = o.zone,
                     .color = o.color,
                     .status = StatusLine(s, link),
                     .as_of = Clock(o.zone)};
      const std::string frame = s.board.Render(view);
      if (frame != last_drawn) {
        std::cout << frame << std::flush;
        last_drawn = frame;
      }
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {inbox.wake[0], POLLIN, 0}};
      if (poll(fds, 2, 1000) < 0 && errno != EINTR) break;
      if (fds[1].revents & POLLIN) {
        char drain[64];
        while (read(inbox.wake[0], drain, sizeof drain) > 0) {
        }
      }
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        char buf[256];
        const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n == 0 && (fds[0].revents & POLLHUP)) break;  // the terminal went away
        for (const KeyPress& k : Decode(std::string(buf, n > 0 ? n : 0))) {
          HandleKey(k, conn, s, std::max(1, height - 5));
          if (s.quit) break;
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(inbox.mu);
      inbox.stop = true;
      if (inbox.stream != nullptr) inbox.stream->TryCancel();
      inbox.stopped.notify_all();
    }
    stream.join();
  }
  close(inbox.wake[0]);
  close(inbox.wake[1]);
  return 0;
}

}  // namespace cit::ctl
