// The state and picture of `dispatchctl watch --board`: every unresolved alert, most urgent
// first (critical before high ..., unacknowledged before acknowledged, newest first), one row
// each, with a selection the operator moves and acts on. No terminal or network here: the
// board command (board_command.h) feeds it events and key presses and prints Render().
//
//   AlertBoard board;
//   board.Apply(event, place);                 // from WatchAlerts; a resolved alert leaves
//   board.MoveSelection(+1);
//   std::optional<uint64_t> id = board.Selected();
//   std::cout << board.Render({.width = 120, .height = 30, .zone = TimeZoneChoice::kLocal});
//
// Thread contract: not thread-safe; the board command owns it on one thread.
#ifndef CIT_DISPATCHCTL_ALERT_BOARD_H_
#define CIT_DISPATCHCTL_ALERT_BOARD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatchctl/operator_text.h"

namespace cit::ctl {

struct BoardView {
  int width = 80;
  int height = 24;
  TimeZoneChoice zone = TimeZoneChoice::kLocal;
  bool color = true;
  std::string status;  // bottom line: what just happened, or the comment being typed
  std::string as_of;   // "01:04:05 CET": when the board last heard from the server
};

class AlertBoard {
 public:
  // Adds or updates the event's alert; a resolved alert leaves the board. Until the operator
  // moves the selection it is on the top row (the most urgent alert); once moved, it stays on
  // the same alert while that is on the board, so a new alert never moves it under their
  // fingers.
  // `place`: where it happened in its run's terms (PlaceFinder::Describe), shown on its row;
  // "" keeps the place the alert had.
  void Apply(const cit::v1::AlertEvent& event, const std::string& place = "");
  // Moves the selection by `rows` (negative: up), clamped to the list.
  void MoveSelection(int rows);
  // The selected alert's id; nullopt when the board is empty.
  std::optional<uint64_t> Selected() const;
  const cit::v1::Alert* Find(uint64_t id) const;
  std::size_t size() const { return alerts_.size(); }
  std::size_t critical_open() const;

  // The whole screen: a header, the rows that fit (scrolled to keep the selection visible),
  // the key help and the status line, each cut to `view.width`; ANSI colours when view.color.
  std::string Render(const BoardView& view) const;

 private:
  // Alerts in board order.
  std::vector<const cit::v1::Alert*> Ordered() const;

  std::map<uint64_t, cit::v1::Alert> alerts_;
  std::map<uint64_t, std::string> places_;
  std::optional<uint64_t> selected_;
  int selected_index_ = 0;  // where the selection was, for when its alert leaves
  bool moved_ = false;      // the operator has moved the selection
};

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_ALERT_BOARD_H_
