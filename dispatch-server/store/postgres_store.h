// PostgreSQL backend of Store (DESIGN §8, issue 15): the same semantics as SqliteStore —
// exactly-once by (vehicle, seq), the per-vehicle SHA-256 chain of record_hash.h, a bounded
// reject sample with exact counts, declared gaps — on a database server that control rooms
// already replicate and back up.
//
//   PostgresStoreOptions o;
//   o.connection = "host=127.0.0.1 port=5432 dbname=citwatch user=dispatch";
//   absl::StatusOr<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(o);
//
// Durability: every connection runs with synchronous_commit = on, so Append returns (and the
// ingest acks) only after COMMIT is flushed (and, with synchronous standbys configured, on them).
// Group commit: one transaction per Append; records by COPY, the other tables by multi-row INSERT.
//
// Append-only: records and seq_gaps refuse UPDATE, DELETE and TRUNCATE by trigger; the schema
// grants the group role citwatch_server only SELECT and INSERT on them (docs/operations.md), so
// a server logging in as a member of that role cannot change history even with triggers off.
//
// Schema: versioned in schema_migrations (component "records"); Open applies pending migrations
// under an advisory lock when its role may, and otherwise refuses to start on an old schema.
//
// Several instances on one database (issue 15 §3): a vehicle's state row carries its owner and
// a fencing token. TakeOwnership (called by the instance the vehicle's agent connects to) bumps
// the token and reloads the vehicle's chain from the database; every commit writes a vehicle's
// row only with the token this instance holds, so an instance that lost a vehicle (paused,
// partitioned) has its next commit refused whole (FAILED_PRECONDITION naming the vehicle) and
// stores nothing. An instance that never takes ownership writes with the token it loaded for
// unowned vehicles (0), which is the single-instance case.
//
// Thread contract: thread-safe. Appends are serialised on the write connection; reads take a
// connection from a pool of options.pool_size, so they run beside a commit.
#ifndef CIT_DISPATCH_STORE_POSTGRES_STORE_H_
#define CIT_DISPATCH_STORE_POSTGRES_STORE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/connection>
#include <pqxx/transaction>
#include <pqxx/transaction_base>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dispatch-server/store/store.h"
#include "dispatch-server/store/vehicle_watermark.h"

namespace cit::dispatch {

struct PostgresStoreOptions {
  // libpq connection string ("host=... port=... dbname=... user=...") or URI.
  std::string connection;
  // Read connections (exports, tracks, audit reads run beside the commit).
  size_t pool_size = 4;
  // As SqliteStoreOptions::reject_samples_per_reason.
  size_t reject_samples_per_reason = 20;
  // This instance's name in the ownership lease, unique per instance sharing the database;
  // TakeOwnership needs it ("" = the only instance).
  std::string instance;
};

class PostgresStore final : public Store {
 public:
  // Connects, applies pending migrations and loads every vehicle's state. UNAVAILABLE when the
  // server cannot be reached (the message names host, port, database and user).
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(const PostgresStoreOptions& options);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  PostgresStore(PostgresStore&&) = delete;
  PostgresStore& operator=(PostgresStore&&) = delete;

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
  // One REPEATABLE READ snapshot on a pooled read connection, read in keyset chunks
  // (postgres_record_scan.h); ReadPage collects the same scan.
  absl::StatusOr<size_t> ScanPage(const RecordPageQuery& query,
                                  const std::function<void(const RecordView&)>& fn) override;
  absl::StatusOr<uint64_t> ChainLength(std::string_view vehicle_id) override;
  absl::StatusOr<std::vector<RejectedRecord>> ReadRejects(std::string_view vehicle_id,
                                                          size_t limit = SIZE_MAX) override;
  absl::StatusOr<std::vector<RejectCount>> ReadRejectCounts(std::string_view vehicle_id) override;
  absl::StatusOr<ChainVerification> VerifyChain(std::string_view vehicle_id) override;
  absl::StatusOr<std::vector<std::string>> ListVehicles() override;
  absl::StatusOr<uint64_t> CountRecords(std::string_view vehicle_id) override;

  // Makes this instance the vehicle's owner: a new fencing token (returned), and the vehicle's
  // watermark and chain head reloaded from the database (another instance may have written).
  // Waits for a commit under way (this instance's, and the previous owner's on the row).
  absl::StatusOr<uint64_t> TakeOwnership(std::string_view vehicle_id) override;
  // TakeOwnership only while the row still names `expected_owner` with `expected_token` (a
  // vehicle whose owner died, or one nobody took over: owner "", token 0, maybe no row yet).
  // nullopt: the row changed meanwhile (another instance adopted or took it), nothing done.
  absl::StatusOr<std::optional<uint64_t>> AdoptOwnership(std::string_view vehicle_id,
                                                         const std::string& expected_owner,
                                                         uint64_t expected_token) override;

  // As SqliteStore::WatermarkWork (the same bookkeeping, vehicle_watermark.h).
  uint64_t WatermarkWork() const { return watermark_work_.load(std::memory_order_relaxed); }

  // Highest schema version of component "records" this binary knows.
  static int LatestSchemaVersion();

 private:
  // TakeOwnership, conditional on the row's (owner, token) when `expected` is set.
  absl::StatusOr<std::optional<uint64_t>> TakeOwnershipIf(
      std::string_view vehicle_id, std::optional<std::pair<std::string, uint64_t>> expected);
  class ReadLease;
  explicit PostgresStore(PostgresStoreOptions options);
  absl::Status Load();
  void ReadChains(pqxx::transaction_base& t, const std::string& which,
                  std::unordered_map<std::string, VehicleChain>& chains,
                  std::unordered_map<std::string, uint64_t>& tokens) const;
  absl::Status EnsureWriter();
  int64_t LeaseTokenFor(const std::string& vehicle);
  absl::Status CheckLeases(pqxx::work& w, const AppendBatch& batch);
  static absl::Status LostOwnership(const std::vector<std::string>& vehicles);
  absl::Status AppendLocked(AppendBatch& batch);
  std::unique_ptr<pqxx::connection> TakeReader();
  void ReturnReader(std::unique_ptr<pqxx::connection> c);
  template <typename Fn>
  auto WithReader(Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>()));

  const PostgresStoreOptions options_;
  // Lock order: write_mu_ or takeover_mu_, then lease_mu_, then state_mu_. lease_mu_ is never
  // held while waiting for a row lock in the database (takeover and commit wait for each
  // other's rows there).
  std::mutex write_mu_;  // serialises Append; guards writer_
  std::unique_ptr<pqxx::connection> writer_;
  bool reload_ = false;  // the writer's connection broke: rebuild chains_ before writing again
  // Takeovers run on their own connection, beside the group commits: behind the commit
  // connection each waited for a whole group commit, so a fleet moving to this instance (the
  // other one died) was taken over at a few vehicles per second under load.
  std::mutex takeover_mu_;  // serialises TakeOwnership; guards takeover_conn_
  std::unique_ptr<pqxx::connection> takeover_conn_;
  std::mutex lease_mu_;  // guards lease_tokens_
  // Fencing token per vehicle this instance may write for.
  std::unordered_map<std::string, uint64_t> lease_tokens_;
  std::mutex pool_mu_;  // guards idle_readers_, open_readers_
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_readers_;
  size_t open_readers_ = 0;
  mutable std::mutex state_mu_;  // guards chains_ (as in SqliteStore)
  std::unordered_map<std::string, VehicleChain> chains_;
  std::atomic<uint64_t> watermark_work_{0};
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_STORE_H_
