// The AuditSource of a running server: records and chain checks from the record Store, runs
// and alerts from the monitor's stores (passed as functions, so audit/ does not depend on how
// the monitor keeps them).
//
//   auto source = std::make_shared<StoreAuditSource>(
//       store,
//       [&runs](const std::string& id) { return runs.Get(id); },
//       [&alerts](const std::string& id) { return alerts.ListForRun(id); });
//   AuditService service(source);
//
// Thread contract: thread-safe as long as the store and the two functions are.
#ifndef CIT_DISPATCH_SERVER_AUDIT_STORE_AUDIT_SOURCE_H_
#define CIT_DISPATCH_SERVER_AUDIT_STORE_AUDIT_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dispatch-server/audit/audit_source.h"
#include "dispatch-server/store/store.h"

namespace cit::dispatch {

class StoreAuditSource final : public AuditSource {
 public:
  using RunLookup = std::function<absl::StatusOr<cit::v1::Run>(const std::string& run_id)>;
  using AlertLookup =
      std::function<absl::StatusOr<std::vector<cit::v1::Alert>>(const std::string& run_id)>;

  // `store` must outlive this object.
  StoreAuditSource(Store& store, RunLookup runs, AlertLookup alerts);

  absl::StatusOr<cit::v1::Run> GetRun(const std::string& run_id) override;
  absl::StatusOr<std::vector<cit::v1::Alert>> RunAlerts(const std::string& run_id) override;
  absl::StatusOr<std::vector<cit::v1::StoredRecord>> VehicleRecords(
      const std::string& vehicle_id, const std::optional<google::protobuf::Timestamp>& from,
      const std::optional<google::protobuf::Timestamp>& to) override;
  absl::StatusOr<std::vector<cit::v1::StoredRecord>> VehicleRecordsPage(
      const TrackRange& range, const std::optional<TrackKey>& after, size_t limit) override;
  // Reuses the records already in `page`.
  absl::Status VehicleRecordsPageInto(const TrackRange& range, const std::optional<TrackKey>& after,
                                      size_t limit,
                                      std::vector<cit::v1::StoredRecord>& page) override;
  // One pass of the store (Store::ScanPage), no record copied.
  absl::StatusOr<std::string> ForEachRecord(
      const TrackRange& range, const std::function<void(const cit::v1::Record&)>& fn) override;
  absl::StatusOr<uint64_t> ChainLength(const std::string& vehicle_id) override;
  absl::StatusOr<ChainCheck> VerifyChain(const std::string& vehicle_id) override;

 private:
  Store& store_;
  RunLookup runs_;
  AlertLookup alerts_;
};

// A store record as the API presents it (hex chain hash, server receive time).
cit::v1::StoredRecord ToApiRecord(const StoredRecord& stored);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_STORE_AUDIT_SOURCE_H_
