// The record store behind the ingest (DESIGN §8): append-only per-vehicle records with a SHA-256
// hash chain, the reject log, and the reads that the ingest, monitor and audit need. SQLite is
// the default backend (store/sqlite_store.h); a PostgreSQL backend implements the same interface.
//
//   absl::StatusOr<std::unique_ptr<Store>> store = SqliteStore::Open("dispatch.db");
//   AppendBatch batch;
//   batch.records.push_back(CommittedRecord{"CIT-0001", record, now});
//   absl::Status s = (*store)->Append(batch);          // one transaction: all or nothing
//   absl::StatusOr<uint64_t> w = (*store)->HighestContiguousSeq("CIT-0001");
//   absl::StatusOr<ChainVerification> v = (*store)->VerifyChain("CIT-0001");
//
// Hash chain: for each vehicle, records are chained in commit order (chain_index 1, 2, ...):
//   h_0 = 32 zero bytes,  h_n = SHA-256(h_{n-1} || CanonicalRecordBytes(record n))
// (store/record_hash.h defines the canonical bytes). Commit order equals seq order except for
// records an agent sends ahead of its backlog, so chaining by commit order lets a record be
// sealed the moment it is stored.
//
// Append-only: no method updates or deletes a stored record. Rejects are counted exactly per
// vehicle and reason (ReadRejectCounts); their raw bytes are kept as a bounded sample
// (ReadRejects), so a misbehaving vehicle cannot grow the database without bound.
//
// Thread contract: implementations are thread-safe; Append calls are serialised internally (the
// ingest calls it from its one commit thread), reads may run concurrently with appends.
#ifndef CIT_DISPATCH_STORE_STORE_H_
#define CIT_DISPATCH_STORE_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cit/v1/telemetry.pb.h"
#include "dispatch-server/store/committed_record.h"

namespace cit::dispatch {

// A record the ingest refused (RecordRejected sent to the agent). Logged so that nothing is
// dropped silently; its seq counts as handled for the contiguous watermark.
struct RejectedRecord {
  std::string vehicle_id;
  // 0 when the record had no usable seq (then it does not affect the watermark).
  uint64_t seq = 0;
  cit::v1::RejectReason reason = cit::v1::REJECT_REASON_UNSPECIFIED;
  std::string detail;
  // The record as received (serialised), kept for investigation.
  std::string raw;
  std::chrono::system_clock::time_point server_received_time;
};

// How many records of one vehicle were refused for one reason (exact, never pruned).
struct RejectCount {
  cit::v1::RejectReason reason = cit::v1::REJECT_REASON_UNSPECIFIED;
  uint64_t count = 0;
  std::chrono::system_clock::time_point first_time;
  std::chrono::system_clock::time_point last_time;
};

// A seq range the agent declared it no longer holds (Hello.first_unacked_seq above the server's
// watermark + 1, e.g. after the server's database was restored from an older backup). Logged;
// counts as handled so that the watermark can move past it.
struct SeqGap {
  std::string vehicle_id;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::chrono::system_clock::time_point server_time;
};

// Everything one group commit writes, in one transaction. Records of one vehicle appear in the
// order they are to be chained. The caller guarantees no (vehicle, seq) is already stored; the
// store refuses the whole batch (ALREADY_EXISTS) if one is.
struct AppendBatch {
  std::vector<CommittedRecord> records;
  std::vector<RejectedRecord> rejects;
  std::vector<SeqGap> gaps;
  bool empty() const { return records.empty() && rejects.empty() && gaps.empty(); }
};

// A stored record as read back.
struct StoredRecord {
  std::string vehicle_id;
  cit::v1::Record record;
  std::chrono::system_clock::time_point server_received_time;
  uint64_t chain_index = 0;
  std::string hash;  // h_n, 32 bytes
};

struct ChainVerification {
  bool ok = true;
  uint64_t records_checked = 0;
  // Seq of the first record whose stored hash, body or chain position does not verify.
  std::optional<uint64_t> first_bad_seq;
  std::string detail;
  // The recomputed head (raw hash of the last record in chain order) when ok; empty without
  // records.
  std::string head;
};

// Per-vehicle delivery state, loaded when the ingest starts.
struct VehicleSeqState {
  std::string vehicle_id;
  // Every seq in [1, contiguous_seq] is stored, rejected or a declared gap.
  uint64_t contiguous_seq = 0;
  // Handled seqs above contiguous_seq (records that arrived ahead of older ones).
  std::vector<uint64_t> handled_above;
};

// Position in a vehicle's records ordered by (event time, seq): a keyset cursor.
struct RecordKey {
  int64_t event_time_ns = 0;
  uint64_t seq = 0;
};

// See Store::ReadPage.
struct RecordPageQuery {
  std::string vehicle_id;
  std::chrono::system_clock::time_point from = std::chrono::system_clock::time_point::min();
  std::chrono::system_clock::time_point to = std::chrono::system_clock::time_point::max();
  std::optional<RecordKey> after;
  uint64_t max_chain_index = UINT64_MAX;
  size_t limit = 1000;
  // ScanPage only: false lets the store hand out the stored body unparsed (RecordView::record
  // null), for a caller that parses it into its own message anyway.
  bool parse_body = true;
};

// One record as a scan sees it (Store::ScanPage): views valid only during the callback.
struct RecordView {
  uint64_t seq = 0;
  uint64_t chain_index = 0;
  int64_t server_time_ns = 0;
  const cit::v1::Record* record = nullptr;  // parsed body; null if unparsed (parse_body)
  std::string_view body;                    // serialised body when unparsed, else may be empty
  std::string_view hash;                    // raw chain hash
};

class Store {
 public:
  virtual ~Store() = default;

  // Appends records (computing their chain hashes and setting chain_index in the stored copy),
  // rejects and gaps in one transaction; this is the group commit.
  virtual absl::Status Append(AppendBatch& batch) = 0;

  // Highest n such that every seq 1..n of the vehicle is stored, rejected or a declared gap.
  virtual absl::StatusOr<uint64_t> HighestContiguousSeq(std::string_view vehicle_id) = 0;

  // Delivery state of every vehicle that has anything stored.
  virtual absl::StatusOr<std::vector<VehicleSeqState>> LoadVehicleStates() = 0;

  // Records with first_seq <= seq <= last_seq, ascending seq, at most `limit`.
  virtual absl::StatusOr<std::vector<StoredRecord>> ReadBySeq(std::string_view vehicle_id,
                                                              uint64_t first_seq, uint64_t last_seq,
                                                              size_t limit = SIZE_MAX) = 0;

  // Records with from <= event_time < to, ascending event time (ties by seq), at most `limit`.
  virtual absl::StatusOr<std::vector<StoredRecord>> ReadByEventTime(
      std::string_view vehicle_id, std::chrono::system_clock::time_point from,
      std::chrono::system_clock::time_point to, size_t limit = SIZE_MAX) = 0;

  // One page of a read of any length (exports, tracks): ReadByEventTime's records and order,
  // strictly after the keyset cursor `after` and with chain_index <= max_chain_index. Pass the
  // ChainLength taken when the read began as max_chain_index, so records committed meanwhile
  // (a backlog may land inside the time range) never show up halfway through the read.
  virtual absl::StatusOr<std::vector<StoredRecord>> ReadPage(const RecordPageQuery& query) = 0;

  // The records ReadPage would return, handed to `fn` one at a time instead of collected: for
  // reads that use each record once (the run report), without a copy per record. Returns how
  // many were visited. The default pages through ReadPage; backends may read in one pass.
  virtual absl::StatusOr<size_t> ScanPage(const RecordPageQuery& query,
                                          const std::function<void(const RecordView&)>& fn);

  // The vehicle's highest chain_index (its stored record count); 0 with none. Cheap.
  virtual absl::StatusOr<uint64_t> ChainLength(std::string_view vehicle_id) = 0;

  // The kept sample of a vehicle's rejected records (the newest few per reason, see the
  // backend's retention setting), in the order they were logged.
  virtual absl::StatusOr<std::vector<RejectedRecord>> ReadRejects(std::string_view vehicle_id,
                                                                  size_t limit = SIZE_MAX) = 0;

  // Exact reject counts of a vehicle, by reason (ascending reason code).
  virtual absl::StatusOr<std::vector<RejectCount>> ReadRejectCounts(
      std::string_view vehicle_id) = 0;

  // Recomputes the vehicle's chain from h_0 over every stored record in chain order.
  virtual absl::StatusOr<ChainVerification> VerifyChain(std::string_view vehicle_id) = 0;

  // Vehicles with at least one stored record, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ListVehicles() = 0;

  // Stored record count of a vehicle.
  virtual absl::StatusOr<uint64_t> CountRecords(std::string_view vehicle_id) = 0;

  // Several instances on one database: makes this instance the vehicle's writer and reloads
  // what the database holds for it (another instance may have written); the previous writer's
  // commits for it are refused from then on. Returns the fencing token; 0 from a store that
  // only one instance writes (SQLite), where there is nothing to take.
  virtual absl::StatusOr<uint64_t> TakeOwnership(std::string_view vehicle_id) {
    (void)vehicle_id;
    return 0;
  }
  // Several instances: takes the vehicle over only if its owner row still reads
  // (expected_owner, expected_token) -- the adoption of a vehicle whose owner died
  // (server/ownership_follower.h). nullopt: another instance changed the row first. The single
  // instance (SQLite) has nothing to adopt.
  virtual absl::StatusOr<std::optional<uint64_t>> AdoptOwnership(std::string_view vehicle_id,
                                                                 const std::string& expected_owner,
                                                                 uint64_t expected_token) {
    (void)vehicle_id;
    (void)expected_owner;
    (void)expected_token;
    return absl::FailedPreconditionError("adopting a vehicle needs the PostgreSQL store");
  }
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_STORE_H_
