// `dispatchctl watch --board`: a full-screen board of unresolved alerts (alert_board.h) on a
// terminal, kept live from WatchAlerts (reconnecting and resuming after the last event seen),
// where Up/Down select an alert and a/r acknowledge or resolve it with a typed comment.
//
//   int code = RunAlertBoard(conn, BoardOptions{.zone = TimeZoneChoice::kLocal});
//
// Plain ANSI escapes rather than ncurses: the board needs a clear, a cursor home, inverse video
// and colours, which every terminal an operator uses understands, and nothing to link.
//
// Thread contract: runs on the calling thread plus one stream thread it joins before returning.
#ifndef CIT_DISPATCHCTL_BOARD_COMMAND_H_
#define CIT_DISPATCHCTL_BOARD_COMMAND_H_

#include <optional>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatchctl/connection.h"
#include "dispatchctl/operator_text.h"

namespace cit::ctl {

struct BoardOptions {
  TimeZoneChoice zone = TimeZoneChoice::kLocal;
  bool color = true;
  std::vector<std::string> vehicles;
  std::optional<cit::v1::Severity> min_severity;
  std::vector<cit::v1::AlertKind> kinds;  // empty: every kind
};

// Runs until the operator presses q (or Ctrl-C). Returns 0, or 2 when stdin or stdout is not a
// terminal (the board needs one; `watch` without --board is for scripts).
int RunAlertBoard(const Connection& conn, const BoardOptions& options);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_BOARD_COMMAND_H_
