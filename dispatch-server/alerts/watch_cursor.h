// A watcher's place in the alert-event stream that any instance of the database can resume from
// (WatchAlertsRequest.resume_token): every event at a log position up to `log_through` was
// seen, and so were the events whose ids lie in `seen` (events an instance showed before they
// were stored, or before its follower read them back: their log positions are above
// `log_through` or not given yet). Event ids are unique across instances but not in commit
// order, so they alone cannot say what a watcher saw; log positions are in commit order but
// come only when an event is stored, a moment after watchers see it.
//
//   WatchCursor c{.log_through = 41, .seen = {{20'001, 20'003}}};
//   std::string token = c.Encode();                       // "w1.41.20001-20003"
//   absl::StatusOr<WatchCursor> back = WatchCursor::Decode(token);
//
// Every id in `seen` was seen, so excluding it again is always right; ranges are merged and
// capped (kMaxRanges), so a token stays short across many resumes.
//
// Thread contract: a value type; no shared state.
#ifndef CIT_DISPATCH_SERVER_ALERTS_WATCH_CURSOR_H_
#define CIT_DISPATCH_SERVER_ALERTS_WATCH_CURSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cit::dispatch {

struct WatchCursor {
  // A token names at most this many ranges; the lowest ids go first beyond it (a repeat of
  // those events is then possible, only after tens of thousands of events never stored).
  static constexpr size_t kMaxRanges = 16;
  // Longest token accepted.
  static constexpr size_t kMaxTokenBytes = 1024;

  uint64_t log_through = 0;
  std::vector<std::pair<uint64_t, uint64_t>> seen;  // [first, last] event ids, ascending

  // Whether the event id lies in a seen range.
  bool Seen(uint64_t event_id) const;
  // Adds [first, last] (merged with overlapping or adjacent ranges; the cap above applies).
  void AddSeen(uint64_t first, uint64_t last);

  std::string Encode() const;
  // INVALID_ARGUMENT for anything Encode does not make (or longer than kMaxTokenBytes).
  static absl::StatusOr<WatchCursor> Decode(const std::string& token);
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_WATCH_CURSOR_H_
