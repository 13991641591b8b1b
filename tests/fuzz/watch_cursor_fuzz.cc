// Fuzz target: WatchAlerts' resume token (dispatch-server/alerts/watch_cursor.h), which any
// watcher -- dispatchctl, the console through the HTTP gateway's Last-Event-ID -- sends back to
// any instance. Any text is either refused with a message, or decodes to a cursor whose seen
// ranges are ordered, disjoint, well formed and capped, and whose own encoding decodes back to
// the same cursor within the token length limit.
//
// Run: build/fuzz/tests/fuzz/fuzz_watch_cursor -max_total_time=60 DIR
//      tests/fuzz/corpus/watch_cursor (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string>

#include "dispatch-server/alerts/watch_cursor.h"

namespace {

using cit::dispatch::WatchCursor;

bool WellFormed(const WatchCursor& c) {
  if (c.seen.size() > WatchCursor::kMaxRanges) return false;
  for (size_t i = 0; i < c.seen.size(); ++i) {
    if (c.seen[i].first > c.seen[i].second) return false;
    // Disjoint and not adjacent: AddSeen merges those.
    if (i > 0 && c.seen[i].first <= c.seen[i - 1].second) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<WatchCursor> cursor = WatchCursor::Decode(text);
  if (!cursor.ok()) {
    if (cursor.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (!WellFormed(*cursor)) __builtin_trap();
  const std::string again = cursor->Encode();
  if (again.size() > WatchCursor::kMaxTokenBytes) __builtin_trap();
  absl::StatusOr<WatchCursor> back = WatchCursor::Decode(again);
  if (!back.ok() || back->log_through != cursor->log_through || back->seen != cursor->seen) {
    __builtin_trap();
  }
  // One more range keeps it well formed (merged with its neighbours, capped).
  WatchCursor grown = *cursor;
  grown.AddSeen(cursor->log_through, cursor->log_through + 3);
  if (!WellFormed(grown)) __builtin_trap();
  return 0;
}
