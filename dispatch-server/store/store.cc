#include "dispatch-server/store/store.h"

#include <chrono>

namespace cit::dispatch {

absl::StatusOr<size_t> Store::ScanPage(const RecordPageQuery& query,
                                       const std::function<void(const RecordView&)>& fn) {
  RecordPageQuery q = query;
  size_t visited = 0;
  while (visited < query.limit) {
    q.limit = std::min<size_t>(1000, query.limit - visited);
    absl::StatusOr<std::vector<StoredRecord>> page = ReadPage(q);
    if (!page.ok()) return page.status();
    for (const StoredRecord& r : *page) {
      RecordView v;
      v.seq = r.record.seq();
      v.chain_index = r.chain_index;
      v.server_time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             r.server_received_time.time_since_epoch())
                             .count();
      v.record = &r.record;
      v.hash = r.hash;
      fn(v);
    }
    visited += page->size();
    if (page->size() < q.limit) break;
    const cit::v1::Record& last = page->back().record;
    q.after = RecordKey{static_cast<int64_t>(last.event_time().seconds()) * 1'000'000'000 +
                            last.event_time().nanos(),
                        last.seq()};
  }
  return visited;
}

}  // namespace cit::dispatch
