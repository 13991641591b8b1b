// The alert board of `dispatchctl watch --board` (dispatchctl/alert_board.h): order, selection
// across changes, and what the screen shows. The terminal side is driven through tmux in
// cli_people_test.cc.
#include "dispatchctl/alert_board.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace cit::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

cit::v1::AlertEvent Event(uint64_t id, cit::v1::Severity severity, cit::v1::AlertKind kind,
                          cit::v1::AlertState state = cit::v1::ALERT_STATE_OPEN,
                          uint32_t revision = 1) {
  cit::v1::AlertEvent e;
  cit::v1::Alert* a = e.mutable_alert();
  a->set_alert_id(id);
  a->set_severity(severity);
  a->set_kind(kind);
  a->set_state(state);
  a->set_revision(revision);
  a->set_vehicle_id("CIT-" + std::to_string(id));
  a->mutable_event_time()->set_seconds(1'768'478'400 + static_cast<int64_t>(id));
  return e;
}

std::string Plain(const AlertBoard& b, int height = 24) {
  BoardView view;
  view.width = 100;
  view.height = height;
  view.zone = TimeZoneChoice::kUtc;
  view.color = false;
  return b.Render(view);
}

TEST(AlertBoardTest, MostUrgentFirstUnacknowledgedBeforeAcknowledgedNewestFirst) {
  AlertBoard b;
  b.Apply(Event(1, cit::v1::SEVERITY_HIGH, cit::v1::ALERT_KIND_ROUTE_DEVIATION));
  b.Apply(Event(2, cit::v1::SEVERITY_CRITICAL, cit::v1::ALERT_KIND_DOOR_OPEN_OUTSIDE_STOP,
                cit::v1::ALERT_STATE_ACKNOWLEDGED));
  b.Apply(Event(3, cit::v1::SEVERITY_CRITICAL, cit::v1::ALERT_KIND_PANIC));
  b.Apply(Event(4, cit::v1::SEVERITY_CRITICAL, cit::v1::ALERT_KIND_SEAL_BROKEN));
  const std::string screen = Plain(b);
  const auto at = [&](const char* text) { return screen.find(text); };
  EXPECT_LT(at("#4 CRITICAL"), at("#3 CRITICAL")) << screen;
  EXPECT_LT(at("#3 CRITICAL"), at("#2 CRITICAL")) << screen;
  EXPECT_LT(at("#2 CRITICAL"), at("#1 HIGH")) << screen;
  EXPECT_THAT(screen, HasSubstr("4 unresolved, 2 critical unacknowledged"));
  EXPECT_THAT(screen, HasSubstr("ACK #2"));
  EXPECT_THAT(screen, HasSubstr("NEW #4"));
}

TEST(AlertBoardTest, SelectionFollowsItsAlertAndMovesOnWhenItIsResolved) {
  AlertBoard b;
  EXPECT_FALSE(b.Selected());
  EXPECT_THAT(Plain(b), HasSubstr("No unresolved alerts."));
  b.Apply(Event(1, cit::v1::SEVERITY_HIGH, cit::v1::ALERT_KIND_ROUTE_DEVIATION));
  EXPECT_EQ(b.Selected(), 1u);
  // Before the operator moves it, the selection is the top row: the most urgent alert.
  b.Apply(Event(2, cit::v1::SEVERITY_CRITICAL, cit::v1::ALERT_KIND_PANIC));
  EXPECT_EQ(b.Selected(), 2u);
  b.MoveSelection(+1);
  EXPECT_EQ(b.Selected(), 1u);
  b.MoveSelection(+1);
  EXPECT_EQ(b.Selected(), 1u) << "clamped at the bottom";
  // Once moved, a new alert above does not steal it.
  b.Apply(Event(5, cit::v1::SEVERITY_CRITICAL, cit::v1::ALERT_KIND_SEAL_BROKEN));
  EXPECT_EQ(b.Selected(), 1u);
  b.MoveSelection(-5);
  EXPECT_EQ(b.Selected(), 5u);
  b.MoveSelection(+2);
  EXPECT_EQ(b.Selected(), 1u);
  b.Apply(Event(5, cit::v1::SEVERITY_CRITICAL, cit::v1::ALERT_KIND_SEAL_BROKEN,
                cit::v1::ALERT_STATE_RESOLVED, 2));
  EXPECT_THAT(Plain(b), HasSubstr("> NEW #1"));
  // An older revision arriving late does not undo a newer one.
  b.Apply(Event(1, cit::v1::SEVERITY_HIGH, cit::v1::ALERT_KIND_ROUTE_DEVIATION,
                cit::v1::ALERT_STATE_ACKNOWLEDGED, 3));
  b.Apply(Event(1, cit::v1::SEVERITY_HIGH, cit::v1::ALERT_KIND_ROUTE_DEVIATION,
                cit::v1::ALERT_STATE_OPEN, 2));
  EXPECT_EQ(b.Find(1)->state(), cit::v1::ALERT_STATE_ACKNOWLEDGED);
  b.Apply(Event(1, cit::v1::SEVERITY_HIGH, cit::v1::ALERT_KIND_ROUTE_DEVIATION,
                cit::v1::ALERT_STATE_RESOLVED, 4));
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.Selected(), 2u);
  b.Apply(Event(2, cit::v1::SEVERITY_CRITICAL, cit::v1::ALERT_KIND_PANIC,
                cit::v1::ALERT_STATE_RESOLVED, 2));
  EXPECT_FALSE(b.Selected());
}

TEST(AlertBoardTest, ScrollsToKeepTheSelectionOnAShortScreen) {
  AlertBoard b;
  for (uint64_t id = 1; id <= 40; ++id) {
    b.Apply(Event(id, cit::v1::SEVERITY_MEDIUM, cit::v1::ALERT_KIND_UNSCHEDULED_STOP));
  }
  b.MoveSelection(-100);  // top: #40, newest first
  EXPECT_THAT(Plain(b, 10), HasSubstr("> NEW #40"));
  b.MoveSelection(+100);  // bottom: #1
  const std::string screen = Plain(b, 10);
  EXPECT_THAT(screen, HasSubstr("> NEW #1 "));
  EXPECT_THAT(screen, Not(HasSubstr("#40 ")));
  // Every line fits the width.
  std::size_t start = 0;
  for (std::size_t end = screen.find("\r\n"); end != std::string::npos;
       start = end + 2, end = screen.find("\r\n", start)) {
    std::string line = screen.substr(start, end - start);
    if (line.starts_with("\033[H\033[2J")) line.erase(0, 7);
    EXPECT_LE(line.size(), 100u) << line;
  }
}

}  // namespace
}  // namespace cit::ctl
