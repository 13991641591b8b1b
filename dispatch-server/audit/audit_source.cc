#include "dispatch-server/audit/audit_source.h"

#include "dispatch-server/audit/track_pages.h"

namespace cit::dispatch {

absl::Status AuditSource::VehicleRecordsPageInto(const TrackRange& range,
                                                 const std::optional<TrackKey>& after, size_t limit,
                                                 std::vector<cit::v1::StoredRecord>& page) {
  absl::StatusOr<std::vector<cit::v1::StoredRecord>> got = VehicleRecordsPage(range, after, limit);
  if (!got.ok()) return got.status();
  page = std::move(*got);
  return absl::OkStatus();
}

absl::StatusOr<std::string> AuditSource::ForEachRecord(
    const TrackRange& range, const std::function<void(const cit::v1::Record&)>& fn) {
  std::optional<TrackKey> after;
  std::string last_hash;
  constexpr std::size_t kPage = 1000;
  while (true) {
    absl::StatusOr<std::vector<cit::v1::StoredRecord>> page =
        VehicleRecordsPage(range, after, kPage);
    if (!page.ok()) return page.status();
    for (const cit::v1::StoredRecord& r : *page) fn(r.record());
    if (!page->empty()) last_hash = page->back().chain_hash();
    if (page->size() < kPage) return last_hash;
    after = KeyOf(page->back());
  }
}

}  // namespace cit::dispatch
