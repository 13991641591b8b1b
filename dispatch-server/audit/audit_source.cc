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

absl::Status AuditSource::ForEachRecord(
    const TrackRange& range,
    const std::function<void(const cit::v1::Record&, std::string_view chain_hash)>& fn) {
  std::optional<TrackKey> after;
  constexpr std::size_t kPage = 1000;
  while (true) {
    absl::StatusOr<std::vector<cit::v1::StoredRecord>> page =
        VehicleRecordsPage(range, after, kPage);
    if (!page.ok()) return page.status();
    for (const cit::v1::StoredRecord& r : *page) fn(r.record(), r.chain_hash());
    if (page->size() < kPage) return absl::OkStatus();
    after = KeyOf(page->back());
  }
}

}  // namespace cit::dispatch
