#include "dispatch-server/api/alert_history.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace cit::dispatch {

AlertHistory SelectHistory(std::vector<cit::v1::AlertEvent> events, bool include_updated,
                           size_t limit) {
  AlertHistory out;
  if (!include_updated) {
    auto updated = [](const cit::v1::AlertEvent& e) {
      return e.type() == cit::v1::ALERT_EVENT_TYPE_UPDATED;
    };
    out.updated_omitted =
        static_cast<uint64_t>(std::count_if(events.begin(), events.end(), updated));
    events.erase(std::remove_if(events.begin(), events.end(), updated), events.end());
  }
  limit = std::max<size_t>(limit, 1);
  if (events.size() <= limit) {
    out.events = std::move(events);
    return out;
  }
  const size_t newest = limit / 2;
  const size_t oldest = limit - newest;
  out.events_omitted = events.size() - limit;
  out.events.reserve(limit);
  std::move(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(oldest),
            std::back_inserter(out.events));
  std::move(events.end() - static_cast<std::ptrdiff_t>(newest), events.end(),
            std::back_inserter(out.events));
  return out;
}

}  // namespace cit::dispatch
