// What the audit needs from the rest of the server: runs, alerts, stored records, the chain check.
//
// The Audit service and the report builder read through this narrow interface so they depend on
// neither a store backend nor the monitor's run/alert stores; the server assembly supplies an
// adapter (StoreAuditSource in store_audit_source.h), tests may supply their own.
//
//   class MySource final : public AuditSource { ... };
//   AuditService service(std::make_shared<MySource>(...));
//
// Thread contract: implementations must be safe to call from several RPC threads at once.
#ifndef CIT_DISPATCH_SERVER_AUDIT_AUDIT_SOURCE_H_
#define CIT_DISPATCH_SERVER_AUDIT_AUDIT_SOURCE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// Result of recomputing one vehicle's hash chain.
struct ChainCheck {
  bool intact = true;
  std::uint64_t records_checked = 0;
  // First record whose stored hash differs from the recomputed one (when !intact).
  std::uint64_t first_bad_seq = 0;
  std::string problem;
  std::string head_hex;
};

// Reads of any length go page by page over a fixed range of one vehicle's records.
struct TrackRange {
  std::string vehicle_id;
  // from <= event_time <= to, either bound optional.
  std::optional<google::protobuf::Timestamp> from;
  std::optional<google::protobuf::Timestamp> to;
  // The vehicle's chain length when the read began: later commits are left out, so every page
  // (and every pass of a multi-pass export) sees the same records.
  uint64_t max_chain_index = UINT64_MAX;
};

// Keyset cursor: the last record a page returned, by (event time, seq).
struct TrackKey {
  int64_t event_time_ns = 0;
  uint64_t seq = 0;
  bool operator==(const TrackKey&) const = default;
};

class AuditSource {
 public:
  virtual ~AuditSource() = default;

  // NOT_FOUND when the run does not exist.
  virtual absl::StatusOr<cit::v1::Run> GetRun(const std::string& run_id) = 0;
  // Every alert of the run with its actions, in alert id order.
  virtual absl::StatusOr<std::vector<cit::v1::Alert>> RunAlerts(const std::string& run_id) = 0;
  // A vehicle's stored records with from <= event_time <= to (either bound optional), in seq
  // order.
  virtual absl::StatusOr<std::vector<cit::v1::StoredRecord>> VehicleRecords(
      const std::string& vehicle_id, const std::optional<google::protobuf::Timestamp>& from,
      const std::optional<google::protobuf::Timestamp>& to) = 0;
  // At most `limit` records of `range` strictly after `after`, in (event time, seq) order.
  virtual absl::StatusOr<std::vector<cit::v1::StoredRecord>> VehicleRecordsPage(
      const TrackRange& range, const std::optional<TrackKey>& after, size_t limit) = 0;
  // VehicleRecordsPage into `page`, whose records a backend may reuse (their allocated
  // sub-messages and strings): a long export then allocates per page size, not per record.
  // The default moves VehicleRecordsPage's answer in.
  virtual absl::Status VehicleRecordsPageInto(const TrackRange& range,
                                              const std::optional<TrackKey>& after, size_t limit,
                                              std::vector<cit::v1::StoredRecord>& page);
  // Every record of `range` in (event time, seq) order, handed to `fn` one at a time, for reads
  // that use each record once (the run report): nothing is kept, so memory does not follow the
  // number of records. Returns the chain hash (hex) of the last record handed out, empty if
  // none: only that one is formatted. The default pages VehicleRecordsPage.
  virtual absl::StatusOr<std::string> ForEachRecord(
      const TrackRange& range, const std::function<void(const cit::v1::Record&)>& fn);
  // The vehicle's current chain length (0 without records), for TrackRange::max_chain_index.
  virtual absl::StatusOr<uint64_t> ChainLength(const std::string& vehicle_id) = 0;
  // NOT_FOUND when the vehicle has no records.
  virtual absl::StatusOr<ChainCheck> VerifyChain(const std::string& vehicle_id) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_AUDIT_SOURCE_H_
