#include "dispatch-server/audit/store_audit_source.h"

#include <google/protobuf/util/time_util.h>

#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::system_clock;

Clock::time_point ToTimePoint(const google::protobuf::Timestamp& t) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(t))));
}

}  // namespace

cit::v1::StoredRecord ToApiRecord(const StoredRecord& stored) {
  cit::v1::StoredRecord out;
  *out.mutable_record() = stored.record;
  if (out.record().vehicle_id().empty()) out.mutable_record()->set_vehicle_id(stored.vehicle_id);
  *out.mutable_server_received_time() =
      TimeUtil::NanosecondsToTimestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           stored.server_received_time.time_since_epoch())
                                           .count());
  out.set_chain_hash(HexHash(stored.hash));
  return out;
}

StoreAuditSource::StoreAuditSource(Store& store, RunLookup runs, AlertLookup alerts)
    : store_(store), runs_(std::move(runs)), alerts_(std::move(alerts)) {}

absl::StatusOr<cit::v1::Run> StoreAuditSource::GetRun(const std::string& run_id) {
  if (!runs_) return absl::UnimplementedError("run store not wired into the audit");
  return runs_(run_id);
}

absl::StatusOr<std::vector<cit::v1::Alert>> StoreAuditSource::RunAlerts(const std::string& run_id) {
  if (!alerts_) return std::vector<cit::v1::Alert>();
  return alerts_(run_id);
}

absl::StatusOr<std::vector<cit::v1::StoredRecord>> StoreAuditSource::VehicleRecords(
    const std::string& vehicle_id, const std::optional<google::protobuf::Timestamp>& from,
    const std::optional<google::protobuf::Timestamp>& to) {
  const Clock::time_point lo = from ? ToTimePoint(*from) : Clock::time_point::min();
  // The store's upper bound is exclusive; the run's end is inclusive.
  const Clock::time_point hi =
      to ? ToTimePoint(*to) + std::chrono::nanoseconds(1) : Clock::time_point::max();
  absl::StatusOr<std::vector<StoredRecord>> rows = store_.ReadByEventTime(vehicle_id, lo, hi);
  if (!rows.ok()) return rows.status();
  std::vector<cit::v1::StoredRecord> out;
  out.reserve(rows->size());
  for (const StoredRecord& r : *rows) out.push_back(ToApiRecord(r));
  return out;
}

namespace {

RecordPageQuery PageQuery(const TrackRange& range, const std::optional<TrackKey>& after,
                          size_t limit) {
  RecordPageQuery q;
  q.vehicle_id = range.vehicle_id;
  if (range.from) q.from = ToTimePoint(*range.from);
  // The store's upper bound is exclusive; the run's end is inclusive.
  if (range.to) q.to = ToTimePoint(*range.to) + std::chrono::nanoseconds(1);
  if (after) q.after = RecordKey{after->event_time_ns, after->seq};
  q.max_chain_index = range.max_chain_index;
  q.limit = limit;
  return q;
}

// One store row into an API record, reusing what `r` has allocated.
absl::Status FillApiRecord(const RecordView& v, const std::string& vehicle_id,
                           cit::v1::StoredRecord& r) {
  if (v.record != nullptr) {
    *r.mutable_record() = *v.record;
  } else if (!r.mutable_record()->ParseFromArray(v.body.data(), static_cast<int>(v.body.size()))) {
    return absl::DataLossError(
        absl::StrCat("stored body of ", vehicle_id, " seq ", v.seq, " does not parse"));
  }
  if (r.record().vehicle_id().empty()) r.mutable_record()->set_vehicle_id(vehicle_id);
  *r.mutable_server_received_time() = TimeUtil::NanosecondsToTimestamp(v.server_time_ns);
  HexHashInto(v.hash, r.mutable_chain_hash());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<cit::v1::StoredRecord>> StoreAuditSource::VehicleRecordsPage(
    const TrackRange& range, const std::optional<TrackKey>& after, size_t limit) {
  std::vector<cit::v1::StoredRecord> out;
  absl::Status s = VehicleRecordsPageInto(range, after, limit, out);
  if (!s.ok()) return s;
  return out;
}

absl::Status StoreAuditSource::VehicleRecordsPageInto(const TrackRange& range,
                                                      const std::optional<TrackKey>& after,
                                                      size_t limit,
                                                      std::vector<cit::v1::StoredRecord>& page) {
  // Straight from the store's rows into API records (no intermediate StoredRecord copies), into
  // the records the page already holds where it has them; each body parsed once, there.
  size_t used = 0;
  absl::Status fill;
  RecordPageQuery q = PageQuery(range, after, limit);
  q.parse_body = false;
  absl::StatusOr<size_t> n = store_.ScanPage(q, [&](const RecordView& v) {
    if (!fill.ok()) return;
    if (used == page.size()) page.emplace_back();
    fill = FillApiRecord(v, range.vehicle_id, page[used++]);
  });
  if (!n.ok()) return n.status();
  if (!fill.ok()) return fill;
  page.resize(used);
  return absl::OkStatus();
}

absl::StatusOr<std::string> StoreAuditSource::ForEachRecord(
    const TrackRange& range, const std::function<void(const cit::v1::Record&)>& fn) {
  RecordPageQuery q;
  q.vehicle_id = range.vehicle_id;
  if (range.from) q.from = ToTimePoint(*range.from);
  // The store's upper bound is exclusive; the run's end is inclusive.
  if (range.to) q.to = ToTimePoint(*range.to) + std::chrono::nanoseconds(1);
  q.max_chain_index = range.max_chain_index;
  q.limit = SIZE_MAX;
  // The raw hash of the last record, kept in a buffer reused for every record; hex once.
  std::string last_hash;
  absl::StatusOr<size_t> n = store_.ScanPage(q, [&](const RecordView& v) {
    fn(*v.record);
    last_hash.assign(v.hash);
  });
  if (!n.ok()) return n.status();
  return last_hash.empty() ? std::string() : HexHash(last_hash);
}

absl::StatusOr<uint64_t> StoreAuditSource::ChainLength(const std::string& vehicle_id) {
  return store_.ChainLength(vehicle_id);
}

absl::StatusOr<ChainCheck> StoreAuditSource::VerifyChain(const std::string& vehicle_id) {
  absl::StatusOr<uint64_t> count = store_.CountRecords(vehicle_id);
  if (!count.ok()) return count.status();
  if (*count == 0) return absl::NotFoundError("no records stored for vehicle " + vehicle_id);
  absl::StatusOr<ChainVerification> v = store_.VerifyChain(vehicle_id);
  if (!v.ok()) return v.status();
  ChainCheck out;
  out.intact = v->ok;
  out.records_checked = v->records_checked;
  out.first_bad_seq = v->first_bad_seq.value_or(0);
  out.problem = v->detail;
  // The head is the hash of the last record in chain (commit) order, recomputed by the walk.
  if (v->ok && !v->head.empty()) out.head_hex = HexHash(v->head);
  return out;
}

}  // namespace cit::dispatch
