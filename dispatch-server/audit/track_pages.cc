#include "dispatch-server/audit/track_pages.h"

#include <algorithm>
#include <utility>

namespace cit::dispatch {

TrackKey KeyOf(const cit::v1::StoredRecord& record) {
  const auto& t = record.record().event_time();
  return TrackKey{t.seconds() * 1'000'000'000 + t.nanos(), record.record().seq()};
}

absl::StatusOr<TrackRange> TrackRangeNow(AuditSource& source, const std::string& vehicle_id,
                                         std::optional<google::protobuf::Timestamp> from,
                                         std::optional<google::protobuf::Timestamp> to) {
  absl::StatusOr<uint64_t> length = source.ChainLength(vehicle_id);
  if (!length.ok()) return length.status();
  TrackRange range;
  range.vehicle_id = vehicle_id;
  range.from = std::move(from);
  range.to = std::move(to);
  range.max_chain_index = *length;
  return range;
}

SourcePages::SourcePages(std::shared_ptr<AuditSource> source, TrackRange range,
                         std::size_t page_records, std::optional<TrackKey> after)
    : source_(std::move(source)),
      range_(std::move(range)),
      page_records_(std::max<std::size_t>(page_records, 1)),
      start_(after),
      position_(after) {}

absl::Status RecordPages::NextInto(std::vector<cit::v1::StoredRecord>& page) {
  absl::StatusOr<std::vector<cit::v1::StoredRecord>> got = Next();
  if (!got.ok()) return got.status();
  page = std::move(*got);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<cit::v1::StoredRecord>> SourcePages::Next() {
  std::vector<cit::v1::StoredRecord> page;
  absl::Status s = NextInto(page);
  if (!s.ok()) return s;
  return page;
}

absl::Status SourcePages::NextInto(std::vector<cit::v1::StoredRecord>& page) {
  if (done_) {
    page.clear();
    return absl::OkStatus();
  }
  absl::Status s = source_->VehicleRecordsPageInto(range_, position_, page_records_, page);
  if (!s.ok()) return s;
  // A short page is the last one: no query just to learn that the next is empty.
  if (page.size() < page_records_) done_ = true;
  if (!page.empty()) position_ = KeyOf(page.back());
  return absl::OkStatus();
}

void SourcePages::Rewind() {
  position_ = start_;
  done_ = false;
}

VectorPages::VectorPages(const std::vector<cit::v1::StoredRecord>& records,
                         std::size_t page_records)
    : records_(records), page_records_(std::max<std::size_t>(page_records, 1)) {}

absl::StatusOr<std::vector<cit::v1::StoredRecord>> VectorPages::Next() {
  const std::size_t end = std::min(records_.size(), next_ + page_records_);
  std::vector<cit::v1::StoredRecord> out(records_.begin() + static_cast<std::ptrdiff_t>(next_),
                                         records_.begin() + static_cast<std::ptrdiff_t>(end));
  next_ = end;
  return out;
}

}  // namespace cit::dispatch
