// SQLite backend of Store (DESIGN §8): one database file in WAL mode, prepared statements, one
// transaction per group commit, append-only records enforced by triggers.
//
//   absl::StatusOr<std::unique_ptr<SqliteStore>> store =
//       SqliteStore::Open("/var/lib/citwatch/dispatch.db", {.durability =
//       sqlite::Durability::kFull});
//
// Schema (component "records" in schema_migrations): records (PRIMARY KEY vehicle_id, seq;
// UNIQUE vehicle_id, chain_index; index on vehicle_id, event_time_ns), rejects (a bounded
// sample), reject_counts (exact, per vehicle and reason), seq_gaps and vehicle_seq (per-vehicle
// watermark and chain head, derived state kept in the same transaction). Other components may keep
// their own tables in the same file (sqlite_db.h).
//
// Thread contract: thread-safe. Appends are serialised on the write connection; reads use a
// separate connection under their own lock, so they run beside a commit (WAL). A background
// thread checkpoints the WAL once a second (PASSIVE), so group commits never pay for it.
#ifndef CIT_DISPATCH_STORE_SQLITE_STORE_H_
#define CIT_DISPATCH_STORE_SQLITE_STORE_H_

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include "dispatch-server/store/sqlite_db.h"
#include "dispatch-server/store/store.h"
#include "dispatch-server/store/vehicle_watermark.h"

namespace cit::dispatch {

struct SqliteStoreOptions {
  sqlite::Durability durability = sqlite::Durability::kFull;
  int busy_timeout_ms = 5000;
  // Retention of rejected records' raw bytes: the newest this many per vehicle and reason are
  // kept ([store] reject_samples_per_reason); counts stay exact. Rejects whose seq is above the
  // vehicle's watermark are kept (without bytes beyond the sample) until the watermark passes,
  // because they rebuild it after a restart.
  size_t reject_samples_per_reason = 20;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) and migrates the database, and loads every vehicle's state.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& path,
                                                           const SqliteStoreOptions& options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  SqliteStore(SqliteStore&&) = delete;
  SqliteStore& operator=(SqliteStore&&) = delete;

  absl::Status Append(AppendBatch& batch) override;
  absl::StatusOr<uint64_t> HighestContiguousSeq(std::string_view vehicle_id) override;
  absl::StatusOr<std::vector<VehicleSeqState>> LoadVehicleStates() override;
  absl::StatusOr<std::vector<StoredRecord>> ReadBySeq(std::string_view vehicle_id,
                                                      uint64_t first_seq, uint64_t last_seq,
                                                      size_t limit = SIZE_MAX) override;
  absl::StatusOr<std::vector<StoredRecord>> ReadByEventTime(
      std::string_view vehicle_id, std::chrono::system_clock::time_point from,
      std::chrono::system_clock::time_point to, size_t limit = SIZE_MAX) override;
  absl::StatusOr<std::vector<StoredRecord>> ReadPage(const RecordPageQuery& query) override;
  // In event-time order, read in primary-key order where that is the same
  // (store/sqlite_record_scan.h); each body parsed into an arena-backed message.
  absl::StatusOr<size_t> ScanPage(const RecordPageQuery& query,
                                  const std::function<void(const RecordView&)>& fn) override;
  absl::StatusOr<uint64_t> ChainLength(std::string_view vehicle_id) override;
  absl::StatusOr<std::vector<RejectedRecord>> ReadRejects(std::string_view vehicle_id,
                                                          size_t limit = SIZE_MAX) override;
  absl::StatusOr<std::vector<RejectCount>> ReadRejectCounts(std::string_view vehicle_id) override;
  absl::StatusOr<ChainVerification> VerifyChain(std::string_view vehicle_id) override;
  absl::StatusOr<std::vector<std::string>> ListVehicles() override;
  absl::StatusOr<uint64_t> CountRecords(std::string_view vehicle_id) override;

  const std::filesystem::path& path() const { return path_; }

  // Test hook: set entries (handled seqs and gaps) that Append's watermark bookkeeping has
  // inserted, visited or erased, cumulative. Per commit it is proportional to the batch and to
  // how far the watermark moves, never to how many seqs wait above a missing one.
  uint64_t WatermarkWork() const { return watermark_work_.load(std::memory_order_relaxed); }

  // The migrations of component "records" (exposed for tests and the PostgreSQL port).
  static std::span<const sqlite::Migration> Migrations();

 private:
  // The first column of `sql`'s first row for ?1 = vehicle_id, as a count (0 when no row).
  absl::StatusOr<uint64_t> ReadCount(std::string_view sql, std::string_view vehicle_id);
  struct WriteStatements;

  SqliteStore(std::filesystem::path path, std::unique_ptr<sqlite::Database> writer,
              std::unique_ptr<sqlite::Database> reader);
  absl::Status Load();
  // Inserts the sampled rejects of one Append (watermarks of `touched` already advanced).
  absl::Status WriteRejects(const std::vector<RejectedRecord>& rejects,
                            const std::unordered_map<std::string, PendingChain>& touched);
  void CheckpointLoop();

  const std::filesystem::path path_;
  size_t reject_samples_ = 20;
  std::mutex write_mu_;  // serialises Append; guards writer_, write_stmts_
  std::unique_ptr<sqlite::Database> writer_;
  std::unique_ptr<WriteStatements> write_stmts_;
  std::mutex read_mu_;  // guards reader_
  std::unique_ptr<sqlite::Database> reader_;
  mutable std::mutex state_mu_;  // guards chains_ (read by HighestContiguousSeq from any thread)
  // Written only by Load and by Append (under write_mu_ and state_mu_), so Append may read an
  // entry holding write_mu_ alone. Element pointers stay valid across rehashing.
  std::unordered_map<std::string, VehicleChain> chains_;
  std::atomic<uint64_t> watermark_work_{0};
  std::unique_ptr<sqlite::Database> checkpointer_db_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool stop_checkpointer_ = false;
  std::thread checkpointer_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_SQLITE_STORE_H_
