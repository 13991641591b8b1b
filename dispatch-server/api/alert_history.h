// Which events of one alert ListAlertEvents returns: UPDATED events (one per fix while a
// condition lasts) only when asked for, and at most `limit` events, keeping the oldest half
// (how it started) and the newest half (how it is being handled) when there are more.
//
//   AlertHistory h = SelectHistory(std::move(events), /*include_updated=*/false, 1000);
//
// Thread contract: a pure function.
#ifndef CIT_DISPATCH_SERVER_API_ALERT_HISTORY_H_
#define CIT_DISPATCH_SERVER_API_ALERT_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

inline constexpr size_t kDefaultHistoryEvents = 1000;
inline constexpr size_t kMaxHistoryEvents = 10000;

struct AlertHistory {
  std::vector<cit::v1::AlertEvent> events;  // ascending event id
  uint64_t updated_omitted = 0;             // UPDATED events left out
  uint64_t events_omitted = 0;              // others left out by the limit (between the halves)
};

// `events` ascending by event id; `limit` >= 1.
AlertHistory SelectHistory(std::vector<cit::v1::AlertEvent> events, bool include_updated,
                           size_t limit);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_API_ALERT_HISTORY_H_
