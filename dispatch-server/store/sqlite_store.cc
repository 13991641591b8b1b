#include "dispatch-server/store/sqlite_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dispatch-server/store/record_chain_check.h"
#include "dispatch-server/store/record_hash.h"
#include "dispatch-server/store/sqlite_record_scan.h"

namespace cit::dispatch {
namespace {

using Clock = std::chrono::system_clock;

constexpr sqlite::Migration kRecordMigrations[] = {
    {1, "records, rejects, seq gaps, vehicle watermark",
     R"sql(
CREATE TABLE records (
  vehicle_id         TEXT    NOT NULL,
  seq                INTEGER NOT NULL CHECK (seq > 0),
  chain_index        INTEGER NOT NULL CHECK (chain_index > 0),
  event_time_ns      INTEGER NOT NULL,
  agent_time_ns      INTEGER,
  agent_monotonic_ns INTEGER NOT NULL,
  agent_boot         INTEGER NOT NULL,
  server_time_ns     INTEGER NOT NULL,
  kind               INTEGER NOT NULL,  -- Record.payload field number (10 = fix, 13 = panic, ...)
  lat_deg            REAL,
  lon_deg            REAL,
  body               BLOB    NOT NULL,  -- deterministic protobuf serialisation, as hashed
  hash               BLOB    NOT NULL,  -- h_n of the vehicle's chain
  PRIMARY KEY (vehicle_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX records_by_chain ON records (vehicle_id, chain_index);
CREATE INDEX records_by_event_time ON records (vehicle_id, event_time_ns);
CREATE TRIGGER records_append_only_update BEFORE UPDATE ON records
  BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;
CREATE TRIGGER records_append_only_delete BEFORE DELETE ON records
  BEGIN SELECT RAISE(ABORT, 'records are append-only'); END;

CREATE TABLE rejects (
  id             INTEGER PRIMARY KEY,
  vehicle_id     TEXT    NOT NULL,
  seq            INTEGER NOT NULL,
  reason         INTEGER NOT NULL,  -- cit.v1.RejectReason
  detail         TEXT    NOT NULL,
  raw            BLOB    NOT NULL,
  server_time_ns INTEGER NOT NULL
);
CREATE INDEX rejects_by_vehicle_seq ON rejects (vehicle_id, seq);
CREATE TRIGGER rejects_append_only_update BEFORE UPDATE ON rejects
  BEGIN SELECT RAISE(ABORT, 'rejects are append-only'); END;
CREATE TRIGGER rejects_append_only_delete BEFORE DELETE ON rejects
  BEGIN SELECT RAISE(ABORT, 'rejects are append-only'); END;

CREATE TABLE seq_gaps (
  id             INTEGER PRIMARY KEY,
  vehicle_id     TEXT    NOT NULL,
  first_seq      INTEGER NOT NULL,
  last_seq       INTEGER NOT NULL,
  server_time_ns INTEGER NOT NULL
);

-- Derived per-vehicle state, written in the same transaction as the records it summarises.
CREATE TABLE vehicle_seq (
  vehicle_id     TEXT    PRIMARY KEY,
  contiguous_seq INTEGER NOT NULL,
  chain_index    INTEGER NOT NULL,
  head_hash      BLOB    NOT NULL
) WITHOUT ROWID;
)sql"},
    {2, "seq gaps by vehicle (thinned journals declare many small gaps, read back at start)",
     R"sql(
CREATE INDEX seq_gaps_by_vehicle ON seq_gaps (vehicle_id, last_seq);
)sql"},
    {3, "exact reject counts per vehicle and reason; rejects keeps a bounded sample",
     R"sql(
CREATE TABLE reject_counts (
  vehicle_id    TEXT    NOT NULL,
  reason        INTEGER NOT NULL,  -- cit.v1.RejectReason
  count         INTEGER NOT NULL,
  first_time_ns INTEGER NOT NULL,
  last_time_ns  INTEGER NOT NULL,
  PRIMARY KEY (vehicle_id, reason)
) WITHOUT ROWID;
INSERT INTO reject_counts
  SELECT vehicle_id, reason, COUNT(*), MIN(server_time_ns), MAX(server_time_ns)
  FROM rejects GROUP BY vehicle_id, reason;
-- Samples are pruned to the newest few per vehicle and reason (still never updated).
DROP TRIGGER rejects_append_only_delete;
CREATE INDEX rejects_by_vehicle_reason ON rejects (vehicle_id, reason, id);
)sql"},
};

int64_t ToUnixNs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point FromUnixNs(int64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

int64_t TimestampNs(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000'000 + ts.nanos();
}

constexpr std::string_view kRecordColumns =
    "vehicle_id, seq, chain_index, server_time_ns, body, hash, event_time_ns";

absl::StatusOr<StoredRecord> ReadRow(const sqlite::Statement& q) {
  StoredRecord r;
  r.vehicle_id = q.ColumnText(0);
  r.chain_index = static_cast<uint64_t>(q.ColumnInt64(2));
  r.server_received_time = FromUnixNs(q.ColumnInt64(3));
  std::string body = q.ColumnBlob(4);
  if (!r.record.ParseFromString(body)) {
    return absl::DataLossError(absl::StrCat("stored body of ", r.vehicle_id, " seq ",
                                            q.ColumnInt64(1), " does not parse"));
  }
  r.hash = q.ColumnBlob(5);
  return r;
}

// Binds ?1-?6 of the page queries of ReadPage and ScanPage (vehicle, from, to, cursor seq,
// chain limit, row limit).
void BindPageQuery(sqlite::Statement& q, const RecordPageQuery& query) {
  const int64_t max_i64 = std::numeric_limits<int64_t>::max();
  int64_t lo = ToUnixNs(query.from);
  int64_t after_seq = 0;  // seq > 0 always: no cursor admits every record at `lo`
  if (query.after && query.after->event_time_ns >= lo) {
    lo = query.after->event_time_ns;
    after_seq = static_cast<int64_t>(std::min<uint64_t>(query.after->seq, max_i64));
  }
  q.Bind(1, query.vehicle_id)
      .Bind(2, lo)
      .Bind(3, ToUnixNs(query.to))
      .Bind(4, after_seq)
      .Bind(5, static_cast<int64_t>(std::min<uint64_t>(query.max_chain_index, max_i64)))
      .Bind(6, static_cast<int64_t>(std::min<uint64_t>(query.limit, max_i64)));
}

}  // namespace

struct SqliteStore::WriteStatements {
  sqlite::Statement insert_record;
  sqlite::Statement insert_reject;
  sqlite::Statement insert_gap;
  sqlite::Statement upsert_vehicle;
  sqlite::Statement count_rejects;
  sqlite::Statement prune_rejects;
};

std::span<const sqlite::Migration> SqliteStore::Migrations() { return kRecordMigrations; }

SqliteStore::SqliteStore(std::filesystem::path path, std::unique_ptr<sqlite::Database> writer,
                         std::unique_ptr<sqlite::Database> reader)
    : path_(std::move(path)), writer_(std::move(writer)), reader_(std::move(reader)) {}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    stop_checkpointer_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  write_stmts_.reset();  // statements before their connection
}

void SqliteStore::CheckpointLoop() {
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  while (!stop_checkpointer_) {
    checkpoint_cv_.wait_for(lock, std::chrono::seconds(1));
    lock.unlock();
    // PASSIVE never blocks the writer; it copies what it can and leaves the rest for next time.
    (void)checkpointer_db_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
    lock.lock();
  }
  lock.unlock();
  (void)checkpointer_db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& path,
                                                               const SqliteStoreOptions& options) {
  sqlite::OpenOptions open;
  open.durability = options.durability;
  open.busy_timeout_ms = options.busy_timeout_ms;
  // The writer never checkpoints: CheckpointLoop does, off the commit path.
  sqlite::OpenOptions write_open = open;
  write_open.wal_autocheckpoint_pages = 0;
  absl::StatusOr<std::unique_ptr<sqlite::Database>> writer =
      sqlite::Database::Open(path, write_open);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = sqlite::ApplyMigrations(**writer, "records", kRecordMigrations); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<sqlite::Database>> reader = sqlite::Database::Open(path, open);
  if (!reader.ok()) return reader.status();
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(*writer), std::move(*reader)));
  store->reject_samples_ = options.reject_samples_per_reason;

  auto stmts = std::make_unique<WriteStatements>();
  struct {
    sqlite::Statement* target;
    std::string_view sql;
  } prepares[] = {
      {&stmts->insert_record,
       "INSERT INTO records (vehicle_id, seq, chain_index, event_time_ns, agent_time_ns, "
       "agent_monotonic_ns, agent_boot, server_time_ns, kind, lat_deg, lon_deg, body, hash) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"},
      {&stmts->insert_reject,
       "INSERT INTO rejects (vehicle_id, seq, reason, detail, raw, server_time_ns) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&stmts->insert_gap,
       "INSERT INTO seq_gaps (vehicle_id, first_seq, last_seq, server_time_ns) "
       "VALUES (?1, ?2, ?3, ?4)"},
      {&stmts->upsert_vehicle,
       "INSERT INTO vehicle_seq (vehicle_id, contiguous_seq, chain_index, head_hash) "
       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (vehicle_id) DO UPDATE SET "
       "contiguous_seq = excluded.contiguous_seq, chain_index = excluded.chain_index, "
       "head_hash = excluded.head_hash"},
      {&stmts->count_rejects,
       "INSERT INTO reject_counts (vehicle_id, reason, count, first_time_ns, last_time_ns) "
       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (vehicle_id, reason) DO UPDATE SET "
       "count = count + excluded.count, last_time_ns = excluded.last_time_ns"},
      // Keeps the newest ?4 samples of a vehicle and reason among those the watermark has
      // passed (rows above it are what rebuilds the watermark after a restart).
      {&stmts->prune_rejects,
       "DELETE FROM rejects WHERE id IN (SELECT id FROM rejects WHERE vehicle_id = ?1 AND "
       "reason = ?2 AND seq <= ?3 ORDER BY id DESC LIMIT -1 OFFSET ?4)"},
  };
  for (auto& p : prepares) {
    absl::StatusOr<sqlite::Statement> st = store->writer_->Prepare(p.sql);
    if (!st.ok()) return st.status();
    *p.target = std::move(*st);
  }
  store->write_stmts_ = std::move(stmts);
  if (absl::Status s = store->Load(); !s.ok()) return s;
  sqlite::OpenOptions checkpoint_open = open;
  checkpoint_open.cache_kib = 2048;
  absl::StatusOr<std::unique_ptr<sqlite::Database>> checkpointer =
      sqlite::Database::Open(path, checkpoint_open);
  if (!checkpointer.ok()) return checkpointer.status();
  store->checkpointer_db_ = std::move(*checkpointer);
  SqliteStore* raw = store.get();
  store->checkpointer_ = std::thread([raw] { raw->CheckpointLoop(); });
  return store;
}

absl::Status SqliteStore::Load() {
  std::lock_guard<std::mutex> lock(read_mu_);
  std::unordered_map<std::string, VehicleChain> chains;
  {
    absl::StatusOr<sqlite::Statement> q = reader_->Prepare(
        "SELECT vehicle_id, contiguous_seq, chain_index, head_hash FROM vehicle_seq");
    if (!q.ok()) return q.status();
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      VehicleChain& c = chains[q->ColumnText(0)];
      c.contiguous_seq = static_cast<uint64_t>(q->ColumnInt64(1));
      c.chain_index = static_cast<uint64_t>(q->ColumnInt64(2));
      c.head_hash = q->ColumnBlob(3);
    }
  }
  // Seqs handled above each watermark: records and rejects that arrived ahead of older ones.
  absl::StatusOr<sqlite::Statement> above = reader_->Prepare(
      "SELECT r.seq FROM records r WHERE r.vehicle_id = ?1 AND r.seq > ?2 "
      "UNION SELECT j.seq FROM rejects j WHERE j.vehicle_id = ?1 AND j.seq > ?2");
  if (!above.ok()) return above.status();
  for (auto& [vehicle, chain] : chains) {
    above->Reset().Bind(1, vehicle).Bind(2, chain.contiguous_seq);
    while (true) {
      absl::StatusOr<bool> row = above->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      chain.handled_above.insert(static_cast<uint64_t>(above->ColumnInt64(0)));
    }
  }
  // Declared gaps not yet joined to the watermark (older records were still missing).
  absl::StatusOr<sqlite::Statement> gaps = reader_->Prepare(
      "SELECT first_seq, last_seq FROM seq_gaps WHERE vehicle_id = ?1 AND last_seq > ?2");
  if (!gaps.ok()) return gaps.status();
  for (auto& [vehicle, chain] : chains) {
    gaps->Reset().Bind(1, vehicle).Bind(2, chain.contiguous_seq);
    while (true) {
      absl::StatusOr<bool> row = gaps->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      uint64_t& last = chain.gaps_above[static_cast<uint64_t>(gaps->ColumnInt64(0))];
      last = std::max(last, static_cast<uint64_t>(gaps->ColumnInt64(1)));
    }
    PendingChain advance(&chain);
    advance.Advance();
    advance.PublishTo(chain);
  }
  std::lock_guard<std::mutex> state_lock(state_mu_);
  chains_ = std::move(chains);
  return absl::OkStatus();
}

absl::Status SqliteStore::Append(AppendBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(write_mu_);
  // The touched vehicles' changes, published only after COMMIT succeeds. chains_ is read here
  // without state_mu_: only this function (under write_mu_) changes it after Load.
  std::unordered_map<std::string, PendingChain> touched;
  auto chain_of = [&](const std::string& vehicle) -> PendingChain& {
    auto it = touched.find(vehicle);
    if (it != touched.end()) return it->second;
    auto found = chains_.find(vehicle);
    return touched.emplace(vehicle, PendingChain(found != chains_.end() ? &found->second : nullptr))
        .first->second;
  };

  sqlite::Transaction tx(*writer_);
  if (!tx.status().ok()) return tx.status();
  WriteStatements& w = *write_stmts_;

  // A batch holds each submission's records together: look the vehicle up once per run of them.
  const std::string* last_vehicle = nullptr;
  PendingChain* last_chain = nullptr;
  for (CommittedRecord& rec : batch.records) {
    if (last_vehicle == nullptr || *last_vehicle != rec.vehicle_id) {
      last_chain = &chain_of(rec.vehicle_id);
      last_vehicle = &rec.vehicle_id;
    }
    PendingChain& c = *last_chain;
    const uint64_t seq = rec.record.seq();
    if (seq == 0 || !c.Mark(seq)) {
      return absl::AlreadyExistsError(
          absl::StrCat("record ", rec.vehicle_id, " seq ", seq, " is already handled"));
    }
    if (rec.body.empty()) rec.body = SerializeRecordBody(rec.record);  // not made by an ingest
    const int64_t server_ns = ToUnixNs(rec.server_received_time);
    // Rolls back on failure: nothing is stored unhashed.
    if (absl::Status s =
            RecordChainStep(c.head_hash, rec.vehicle_id, seq, server_ns, rec.body, &c.head_hash);
        !s.ok()) {
      return s;
    }
    const uint64_t chain_index = c.chain_index + 1;
    std::optional<double> lat, lon;
    if (rec.record.has_fix()) {
      lat = rec.record.fix().lat_deg();
      lon = rec.record.fix().lon_deg();
    }
    std::optional<int64_t> agent_ns;
    if (rec.record.has_agent_time()) agent_ns = TimestampNs(rec.record.agent_time());
    w.insert_record.Reset()
        .Bind(1, rec.vehicle_id)
        .Bind(2, seq)
        .Bind(3, chain_index)
        .Bind(4, TimestampNs(rec.record.event_time()))
        .Bind(5, agent_ns)
        .Bind(6, static_cast<int64_t>(rec.record.agent_monotonic_ns()))
        .Bind(7, rec.record.agent_boot())
        .Bind(8, server_ns)
        .Bind(9, static_cast<int>(rec.record.payload_case()))
        .Bind(10, lat)
        .Bind(11, lon)
        .Bind(12, sqlite::Blob(rec.body))
        .Bind(13, sqlite::Blob(c.head_hash));
    if (absl::Status s = w.insert_record.Run(); !s.ok()) return s;
    c.chain_index = chain_index;
    rec.chain_index = chain_index;
  }
  // Rejects: exact counts per vehicle and reason, and a bounded sample of raw bytes.
  struct RejectTally {
    uint64_t count = 0;
    int64_t first_ns = 0, last_ns = 0;
  };
  std::map<std::pair<std::string, int>, RejectTally> tallies;
  for (const RejectedRecord& rej : batch.rejects) {
    chain_of(rej.vehicle_id).Mark(rej.seq);  // a reject of a handled seq changes nothing
    RejectTally& t = tallies[{rej.vehicle_id, static_cast<int>(rej.reason)}];
    const int64_t ns = ToUnixNs(rej.server_received_time);
    if (t.count++ == 0) t.first_ns = ns;
    t.last_ns = ns;
  }
  for (const SeqGap& gap : batch.gaps) {
    PendingChain& c = chain_of(gap.vehicle_id);
    if (gap.first_seq == 0 || gap.last_seq < gap.first_seq) {
      return absl::InvalidArgumentError("seq gap must be a non-empty range above 0");
    }
    c.AddGap(gap.first_seq, gap.last_seq);
    w.insert_gap.Reset()
        .Bind(1, gap.vehicle_id)
        .Bind(2, gap.first_seq)
        .Bind(3, gap.last_seq)
        .Bind(4, ToUnixNs(gap.server_time));
    if (absl::Status s = w.insert_gap.Run(); !s.ok()) return s;
  }
  for (auto& [vehicle, c] : touched) {
    c.Advance();
    w.upsert_vehicle.Reset()
        .Bind(1, vehicle)
        .Bind(2, c.contiguous_seq)
        .Bind(3, c.chain_index)
        .Bind(4, sqlite::Blob(c.head_hash));
    if (absl::Status s = w.upsert_vehicle.Run(); !s.ok()) return s;
  }
  if (absl::Status s = WriteRejects(batch.rejects, touched); !s.ok()) return s;
  for (const auto& [key, t] : tallies) {
    w.count_rejects.Reset()
        .Bind(1, key.first)
        .Bind(2, key.second)
        .Bind(3, t.count)
        .Bind(4, t.first_ns)
        .Bind(5, t.last_ns);
    if (absl::Status s = w.count_rejects.Run(); !s.ok()) return s;
    w.prune_rejects.Reset()
        .Bind(1, key.first)
        .Bind(2, key.second)
        .Bind(3, touched.at(key.first).contiguous_seq)
        .Bind(4, static_cast<int64_t>(reject_samples_));
    if (absl::Status s = w.prune_rejects.Run(); !s.ok()) return s;
  }
  if (absl::Status s = tx.Commit(); !s.ok()) return s;

  std::lock_guard<std::mutex> state_lock(state_mu_);
  uint64_t work = 0;
  for (auto& [vehicle, c] : touched) {
    c.PublishTo(chains_[vehicle]);
    work += c.work;
  }
  watermark_work_.fetch_add(work, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status SqliteStore::WriteRejects(
    const std::vector<RejectedRecord>& rejects,
    const std::unordered_map<std::string, PendingChain>& touched) {
  // Only the newest reject_samples_ of each vehicle and reason in this batch can survive the
  // prune: count from the end, and write the others only if the watermark still needs them.
  std::vector<bool> sampled(rejects.size());
  std::map<std::pair<std::string_view, int>, size_t> newer;
  for (size_t i = rejects.size(); i-- > 0;) {
    const RejectedRecord& rej = rejects[i];
    sampled[i] = newer[{rej.vehicle_id, static_cast<int>(rej.reason)}]++ < reject_samples_;
  }
  for (size_t i = 0; i < rejects.size(); ++i) {  // in order: ids keep the arrival order
    const RejectedRecord& rej = rejects[i];
    const bool above_watermark =
        rej.seq != 0 && rej.seq > touched.at(rej.vehicle_id).contiguous_seq;
    if (!sampled[i] && !above_watermark) continue;
    write_stmts_->insert_reject.Reset()
        .Bind(1, rej.vehicle_id)
        .Bind(2, rej.seq)
        .Bind(3, static_cast<int>(rej.reason))
        .Bind(4, sampled[i] ? std::string_view(rej.detail) : std::string_view("(not sampled)"))
        .Bind(5, sqlite::Blob(sampled[i] ? std::string_view(rej.raw) : std::string_view()))
        .Bind(6, ToUnixNs(rej.server_received_time));
    if (absl::Status s = write_stmts_->insert_reject.Run(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RejectCount>> SqliteStore::ReadRejectCounts(
    std::string_view vehicle_id) {
  std::lock_guard<std::mutex> lock(read_mu_);
  absl::StatusOr<sqlite::Statement> q = reader_->Prepare(
      "SELECT reason, count, first_time_ns, last_time_ns FROM reject_counts "
      "WHERE vehicle_id = ?1 ORDER BY reason");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id);
  std::vector<RejectCount> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    RejectCount c;
    c.reason = static_cast<cit::v1::RejectReason>(q->ColumnInt64(0));
    c.count = static_cast<uint64_t>(q->ColumnInt64(1));
    c.first_time = FromUnixNs(q->ColumnInt64(2));
    c.last_time = FromUnixNs(q->ColumnInt64(3));
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<uint64_t> SqliteStore::HighestContiguousSeq(std::string_view vehicle_id) {
  std::lock_guard<std::mutex> lock(state_mu_);
  auto it = chains_.find(std::string(vehicle_id));
  return it == chains_.end() ? 0 : it->second.contiguous_seq;
}

absl::StatusOr<std::vector<VehicleSeqState>> SqliteStore::LoadVehicleStates() {
  std::lock_guard<std::mutex> lock(state_mu_);
  std::vector<VehicleSeqState> out;
  out.reserve(chains_.size());
  for (const auto& [vehicle, c] : chains_) {
    out.push_back({vehicle, c.contiguous_seq, {c.handled_above.begin(), c.handled_above.end()}});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.vehicle_id < b.vehicle_id; });
  return out;
}

absl::StatusOr<std::vector<StoredRecord>> SqliteStore::ReadBySeq(std::string_view vehicle_id,
                                                                 uint64_t first_seq,
                                                                 uint64_t last_seq, size_t limit) {
  std::lock_guard<std::mutex> lock(read_mu_);
  absl::StatusOr<sqlite::Statement> q = reader_->Prepare(
      fmt::format("SELECT {} FROM records WHERE vehicle_id = ?1 AND seq >= ?2 AND seq <= ?3 "
                  "ORDER BY seq LIMIT ?4",
                  kRecordColumns));
  if (!q.ok()) return q.status();
  const int64_t max_i64 = std::numeric_limits<int64_t>::max();
  q->Bind(1, vehicle_id)
      .Bind(2, std::min<uint64_t>(first_seq, max_i64))
      .Bind(3, std::min<uint64_t>(last_seq, max_i64))
      .Bind(4, static_cast<int64_t>(std::min<uint64_t>(limit, max_i64)));
  std::vector<StoredRecord> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<StoredRecord> r = ReadRow(*q);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

absl::StatusOr<std::vector<StoredRecord>> SqliteStore::ReadByEventTime(std::string_view vehicle_id,
                                                                       Clock::time_point from,
                                                                       Clock::time_point to,
                                                                       size_t limit) {
  std::lock_guard<std::mutex> lock(read_mu_);
  absl::StatusOr<sqlite::Statement> q = reader_->Prepare(
      fmt::format("SELECT {} FROM records WHERE vehicle_id = ?1 AND event_time_ns >= ?2 AND "
                  "event_time_ns < ?3 ORDER BY event_time_ns, seq LIMIT ?4",
                  kRecordColumns));
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id)
      .Bind(2, ToUnixNs(from))
      .Bind(3, ToUnixNs(to))
      .Bind(4,
            static_cast<int64_t>(std::min<uint64_t>(limit, std::numeric_limits<int64_t>::max())));
  std::vector<StoredRecord> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<StoredRecord> r = ReadRow(*q);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

absl::StatusOr<std::vector<StoredRecord>> SqliteStore::ReadPage(const RecordPageQuery& query) {
  std::lock_guard<std::mutex> lock(read_mu_);
  // The event-time index of this WITHOUT ROWID table ends in the primary key, so it is
  // (vehicle_id, event_time_ns, seq): one lower bound on event_time_ns (the later of `from` and
  // the cursor) lets each page seek into it instead of scanning from `from` again (a row-value
  // comparison or two lower bounds made every page re-read the run so far: quadratic).
  absl::StatusOr<sqlite::Statement> q = reader_->Prepare(
      fmt::format("SELECT {} FROM records WHERE vehicle_id = ?1 AND event_time_ns >= ?2 AND "
                  "event_time_ns < ?3 AND (event_time_ns > ?2 OR seq > ?4) AND chain_index <= ?5 "
                  "ORDER BY event_time_ns, seq LIMIT ?6",
                  kRecordColumns));
  if (!q.ok()) return q.status();
  BindPageQuery(*q, query);
  std::vector<StoredRecord> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<StoredRecord> r = ReadRow(*q);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

absl::StatusOr<size_t> SqliteStore::ScanPage(const RecordPageQuery& query,
                                             const std::function<void(const RecordView&)>& fn) {
  std::lock_guard<std::mutex> lock(read_mu_);
  return ScanRecordsInKeyOrder(*reader_, query, fn);
}

absl::StatusOr<uint64_t> SqliteStore::ChainLength(std::string_view vehicle_id) {
  return ReadCount("SELECT chain_index FROM vehicle_seq WHERE vehicle_id = ?1", vehicle_id);
}

absl::StatusOr<uint64_t> SqliteStore::ReadCount(std::string_view sql, std::string_view vehicle_id) {
  std::lock_guard<std::mutex> lock(read_mu_);
  absl::StatusOr<sqlite::Statement> q = reader_->Prepare(sql);
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<uint64_t>(q->ColumnInt64(0)) : 0;
}

absl::StatusOr<std::vector<RejectedRecord>> SqliteStore::ReadRejects(std::string_view vehicle_id,
                                                                     size_t limit) {
  std::lock_guard<std::mutex> lock(read_mu_);
  absl::StatusOr<sqlite::Statement> q = reader_->Prepare(
      "SELECT vehicle_id, seq, reason, detail, raw, server_time_ns FROM rejects "
      "WHERE vehicle_id = ?1 ORDER BY id LIMIT ?2");
  if (!q.ok()) return q.status();
  q->Bind(1, vehicle_id)
      .Bind(2,
            static_cast<int64_t>(std::min<uint64_t>(limit, std::numeric_limits<int64_t>::max())));
  std::vector<RejectedRecord> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    RejectedRecord r;
    r.vehicle_id = q->ColumnText(0);
    r.seq = static_cast<uint64_t>(q->ColumnInt64(1));
    r.reason = static_cast<cit::v1::RejectReason>(q->ColumnInt64(2));
    r.detail = q->ColumnText(3);
    r.raw = q->ColumnBlob(4);
    r.server_received_time = FromUnixNs(q->ColumnInt64(5));
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<ChainVerification> SqliteStore::VerifyChain(std::string_view vehicle_id) {
  std::lock_guard<std::mutex> lock(read_mu_);
  // One read transaction: a consistent snapshot even while the ingest appends.
  sqlite::Transaction snapshot(*reader_, sqlite::Transaction::Mode::kDeferred);
  if (!snapshot.status().ok()) return snapshot.status();
  absl::StatusOr<ChainReport> r = VerifyRecordChain(*reader_, vehicle_id, {});
  if (!r.ok()) return r.status();
  ChainVerification v;
  v.ok = r->intact;
  v.records_checked = r->entries_checked;
  if (r->intact && r->entries_checked > 0) v.head = r->head;
  if (!r->intact) {
    v.first_bad_seq = r->first_bad_seq;
    v.detail = absl::StrCat(r->first_bad, ": ", r->problem);
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> SqliteStore::ListVehicles() {
  std::lock_guard<std::mutex> lock(read_mu_);
  absl::StatusOr<sqlite::Statement> q = reader_->Prepare(
      "SELECT vehicle_id FROM vehicle_seq WHERE chain_index > 0 ORDER BY vehicle_id");
  if (!q.ok()) return q.status();
  std::vector<std::string> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(q->ColumnText(0));
  }
  return out;
}

absl::StatusOr<uint64_t> SqliteStore::CountRecords(std::string_view vehicle_id) {
  return ReadCount("SELECT COUNT(*) FROM records WHERE vehicle_id = ?1", vehicle_id);
}

}  // namespace cit::dispatch
