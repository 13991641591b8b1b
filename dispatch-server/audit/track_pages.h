// A run's or a vehicle's stored records read page by page, so a read of any length holds one
// page in memory: a keyset cursor on (event time, seq) over a TrackRange fixed when the read
// began (docs/protocol.md, "Reading long tracks").
//
//   auto range = TrackRangeNow(source, vehicle, from, to);   // pins the chain length
//   SourcePages pages(source, *range, 1000);               // source: shared_ptr
//   while (true) {
//     auto page = pages.Next();          // empty once the range is exhausted
//     ...
//   }
//   pages.Rewind();                      // a second pass sees exactly the same records
//
// Thread contract: one object per reader; the AuditSource must be thread-safe.
#ifndef CIT_DISPATCH_SERVER_AUDIT_TRACK_PAGES_H_
#define CIT_DISPATCH_SERVER_AUDIT_TRACK_PAGES_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/audit/audit_source.h"

namespace cit::dispatch {

// The records of one read, in order, page by page; Rewind starts over.
class RecordPages {
 public:
  virtual ~RecordPages() = default;
  // The next page; empty when there are no more records.
  virtual absl::StatusOr<std::vector<cit::v1::StoredRecord>> Next() = 0;
  // Next() into `page`, reusing its records where the source can (AuditSource::
  // VehicleRecordsPageInto); the default moves Next()'s answer in.
  virtual absl::Status NextInto(std::vector<cit::v1::StoredRecord>& page);
  virtual void Rewind() = 0;
};

// Pages of an AuditSource.
class SourcePages final : public RecordPages {
 public:
  // `after`: start behind this record (a page token).
  SourcePages(std::shared_ptr<AuditSource> source, TrackRange range, std::size_t page_records,
              std::optional<TrackKey> after = std::nullopt);
  absl::StatusOr<std::vector<cit::v1::StoredRecord>> Next() override;
  absl::Status NextInto(std::vector<cit::v1::StoredRecord>& page) override;
  void Rewind() override;
  // The last record returned (nullopt before the first).
  const std::optional<TrackKey>& position() const { return position_; }
  const TrackRange& range() const { return range_; }

 private:
  const std::shared_ptr<AuditSource> source_;
  const TrackRange range_;
  const std::size_t page_records_;
  const std::optional<TrackKey> start_;
  std::optional<TrackKey> position_;
  bool done_ = false;
};

// Pages of records already in memory (the unary exports' tests and small callers).
class VectorPages final : public RecordPages {
 public:
  // `records` must outlive this object.
  VectorPages(const std::vector<cit::v1::StoredRecord>& records, std::size_t page_records);
  absl::StatusOr<std::vector<cit::v1::StoredRecord>> Next() override;
  void Rewind() override { next_ = 0; }

 private:
  const std::vector<cit::v1::StoredRecord>& records_;
  const std::size_t page_records_;
  std::size_t next_ = 0;
};

// The keyset position of a record.
TrackKey KeyOf(const cit::v1::StoredRecord& record);

// The range of `vehicle_id`'s records between the bounds, pinned to its current chain length.
absl::StatusOr<TrackRange> TrackRangeNow(AuditSource& source, const std::string& vehicle_id,
                                         std::optional<google::protobuf::Timestamp> from,
                                         std::optional<google::protobuf::Timestamp> to);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_TRACK_PAGES_H_
