#include "dispatch-server/store/postgres_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dispatch-server/store/postgres_db.h"
#include "dispatch-server/store/postgres_record_scan.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

using Clock = std::chrono::system_clock;

// The PostgreSQL form of SqliteStore's "records" migrations (one step: a new database starts at
// the SQLite schema's final shape). Released versions are never edited.
constexpr pg::Migration kMigrations[] = {
    {1, "records, rejects, reject counts, seq gaps, vehicle watermark; append-only",
     R"sql(
CREATE TABLE records (
  vehicle_id         text             NOT NULL,
  seq                bigint           NOT NULL CHECK (seq > 0),
  chain_index        bigint           NOT NULL CHECK (chain_index > 0),
  event_time_ns      bigint           NOT NULL,
  agent_time_ns      bigint,
  agent_monotonic_ns bigint           NOT NULL,
  agent_boot         bigint           NOT NULL,
  server_time_ns     bigint           NOT NULL,
  kind               integer          NOT NULL,  -- Record.payload field number
  lat_deg            double precision,
  lon_deg            double precision,
  body               bytea            NOT NULL,  -- deterministic protobuf, as hashed
  hash               bytea            NOT NULL,  -- h_n of the vehicle's chain
  PRIMARY KEY (vehicle_id, seq)
);
CREATE UNIQUE INDEX records_by_chain ON records (vehicle_id, chain_index);
CREATE INDEX records_by_event_time ON records (vehicle_id, event_time_ns, seq);

CREATE TABLE rejects (
  id             bigserial PRIMARY KEY,
  vehicle_id     text    NOT NULL,
  seq            bigint  NOT NULL,
  reason         integer NOT NULL,  -- cit.v1.RejectReason
  detail         text    NOT NULL,
  raw            bytea   NOT NULL,
  server_time_ns bigint  NOT NULL
);
CREATE INDEX rejects_by_vehicle_seq ON rejects (vehicle_id, seq);
CREATE INDEX rejects_by_vehicle_reason ON rejects (vehicle_id, reason, id);

CREATE TABLE reject_counts (
  vehicle_id    text    NOT NULL,
  reason        integer NOT NULL,
  count         bigint  NOT NULL,
  first_time_ns bigint  NOT NULL,
  last_time_ns  bigint  NOT NULL,
  PRIMARY KEY (vehicle_id, reason)
);

CREATE TABLE seq_gaps (
  id             bigserial PRIMARY KEY,
  vehicle_id     text   NOT NULL,
  first_seq      bigint NOT NULL,
  last_seq       bigint NOT NULL,
  server_time_ns bigint NOT NULL
);
CREATE INDEX seq_gaps_by_vehicle ON seq_gaps (vehicle_id, last_seq);

-- Derived per-vehicle state, written in the same transaction as the records it summarises.
CREATE TABLE vehicle_seq (
  vehicle_id     text   PRIMARY KEY,
  contiguous_seq bigint NOT NULL,
  chain_index    bigint NOT NULL,
  head_hash      bytea  NOT NULL
);

CREATE FUNCTION citwatch_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON records
  FOR EACH ROW EXECUTE FUNCTION citwatch_refuse_change();
CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON records
  FOR EACH STATEMENT EXECUTE FUNCTION citwatch_refuse_change();
CREATE TRIGGER seq_gaps_append_only BEFORE UPDATE OR DELETE ON seq_gaps
  FOR EACH ROW EXECUTE FUNCTION citwatch_refuse_change();
CREATE TRIGGER seq_gaps_no_truncate BEFORE TRUNCATE ON seq_gaps
  FOR EACH STATEMENT EXECUTE FUNCTION citwatch_refuse_change();
-- Reject samples are pruned to the newest few (DELETE) but never rewritten.
CREATE TRIGGER rejects_no_update BEFORE UPDATE ON rejects
  FOR EACH ROW EXECUTE FUNCTION citwatch_refuse_change();

-- The server's group role: no UPDATE or DELETE on history, whatever the triggers.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'citwatch_server') THEN
    CREATE ROLE citwatch_server NOLOGIN;
  END IF;
END $$;
REVOKE ALL ON records, seq_gaps, rejects, reject_counts, vehicle_seq FROM PUBLIC;
GRANT SELECT, INSERT ON records, seq_gaps TO citwatch_server;
GRANT SELECT, INSERT, DELETE ON rejects TO citwatch_server;
GRANT SELECT, INSERT, UPDATE ON reject_counts, vehicle_seq TO citwatch_server;
GRANT USAGE ON SEQUENCE rejects_id_seq, seq_gaps_id_seq TO citwatch_server;
GRANT SELECT ON schema_migrations TO citwatch_server;
)sql"},
    {2, "vehicle ownership lease with a fencing token (several instances on one database)",
     R"sql(
ALTER TABLE vehicle_seq ADD COLUMN owner text NOT NULL DEFAULT '',
                        ADD COLUMN lease_token bigint NOT NULL DEFAULT 0;
)sql"},
    {3, "instance liveness: one heartbeat row per instance, stamped with the database's clock",
     R"sql(
CREATE TABLE instance_heartbeat (
  instance text        PRIMARY KEY,
  beat_at  timestamptz NOT NULL
);
REVOKE ALL ON instance_heartbeat FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON instance_heartbeat TO citwatch_server;
)sql"},
};

// Rows per multi-row INSERT: bounds the statement text (a batch may hold thousands).
constexpr size_t kRowsPerInsert = 500;

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

int64_t ClampI64(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

std::string Bytea(const pqxx::transaction_base& t, std::string_view bytes) {
  return const_cast<pqxx::transaction_base&>(t).quote_raw(
      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

// float8 input text for COPY: shortest round-trip digits, PostgreSQL's names for the specials.
std::string CopyFloat8(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{}", v);
}

// bytea hex input: "\x" followed by two lower-case hex digits per byte.
std::string HexBytea(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 + 2 * bytes.size(), '\0');
  out[0] = '\\';
  out[1] = 'x';
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    out[2 + 2 * i] = kHex[b >> 4];
    out[3 + 2 * i] = kHex[b & 0xf];
  }
  return out;
}

using pg::Bytes;

// Columns: vehicle_id, seq, chain_index, server_time_ns, body, hash (kPgRecordsBySeqSql's).
absl::StatusOr<std::vector<StoredRecord>> ReadRows(const pqxx::result& res) {
  std::vector<StoredRecord> out;
  out.reserve(res.size());
  for (const pqxx::row& row : res) {
    StoredRecord r;
    r.vehicle_id = row[0].as<std::string>();
    r.chain_index = row[2].as<uint64_t>();
    r.server_received_time = FromUnixNs(row[3].as<int64_t>());
    if (!r.record.ParseFromString(Bytes(row[4]))) {
      return absl::DataLossError(absl::StrCat("stored body of ", r.vehicle_id, " seq ",
                                              row[1].as<uint64_t>(), " does not parse"));
    }
    r.hash = Bytes(row[5]);
    out.push_back(std::move(r));
  }
  return out;
}

// Builds "INSERT INTO <head> VALUES (...), (...)" statements of at most kRowsPerInsert rows;
// `on_result` (when set) sees each statement's result (its RETURNING rows).
class MultiInsert {
 public:
  using ResultFn = std::function<void(const pqxx::result&)>;
  MultiInsert(pqxx::work& w, std::string head, std::string tail = "", ResultFn on_result = nullptr)
      : w_(w), head_(std::move(head)), tail_(std::move(tail)), on_result_(std::move(on_result)) {}
  void Add(const std::string& row) {
    sql_ += rows_ == 0 ? absl::StrCat("INSERT INTO ", head_, " VALUES ") : ",";
    absl::StrAppend(&sql_, "(", row, ")");
    if (++rows_ == kRowsPerInsert) Flush();
  }
  void Flush() {
    if (rows_ == 0) return;
    sql_ += tail_;
    pqxx::result r = w_.exec(sql_);
    if (on_result_) on_result_(r);
    sql_.clear();
    rows_ = 0;
  }

 private:
  pqxx::work& w_;
  std::string head_, tail_, sql_;
  ResultFn on_result_;
  size_t rows_ = 0;
};

}  // namespace

int PostgresStore::LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

PostgresStore::PostgresStore(PostgresStoreOptions options) : options_(std::move(options)) {}
PostgresStore::~PostgresStore() = default;

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const PostgresStoreOptions& options) {
  if (options.pool_size == 0) return absl::InvalidArgumentError("store.pool_size must be >= 1");
  absl::StatusOr<std::unique_ptr<pqxx::connection>> writer = pg::Connect(options.connection);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = pg::ApplyMigrations(**writer, "records", kMigrations); !s.ok()) return s;
  std::unique_ptr<PostgresStore> store(new PostgresStore(options));
  store->writer_ = std::move(*writer);
  if (absl::Status s = store->Load(); !s.ok()) return s;
  return store;
}

std::unique_ptr<pqxx::connection> PostgresStore::TakeReader() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  pool_cv_.wait(lock, [&] { return !idle_readers_.empty() || open_readers_ < options_.pool_size; });
  if (!idle_readers_.empty()) {
    auto c = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    return c;
  }
  ++open_readers_;
  return nullptr;  // the caller connects (outside the lock)
}

void PostgresStore::ReturnReader(std::unique_ptr<pqxx::connection> c) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (c && c->is_open()) {
      idle_readers_.push_back(std::move(c));
    } else {
      --open_readers_;  // broken or never opened: a later read connects afresh
    }
  }
  pool_cv_.notify_one();
}

template <typename Fn>
auto PostgresStore::WithReader(Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
  std::unique_ptr<pqxx::connection> c = TakeReader();
  if (!c) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> opened = pg::Connect(options_.connection);
    if (!opened.ok()) {
      ReturnReader(nullptr);
      return opened.status();
    }
    c = std::move(*opened);
  }
  try {
    auto out = fn(*c);
    ReturnReader(std::move(c));
    return out;
  } catch (const std::exception& e) {
    absl::Status s = pg::FromException(e, "PostgreSQL read");
    if (s.code() == absl::StatusCode::kUnavailable) c.reset();  // do not pool a broken one
    ReturnReader(std::move(c));
    return s;
  }
}

// Every vehicle's state (`which` = "TRUE") or one vehicle's ("v.vehicle_id = '...'"), with the
// lease token of each vehicle this instance may write for (unowned, or owned by `instance`).
void PostgresStore::ReadChains(pqxx::transaction_base& t, const std::string& which,
                               std::unordered_map<std::string, VehicleChain>& chains,
                               std::unordered_map<std::string, uint64_t>& tokens) const {
  for (const pqxx::row& row :
       t.exec("SELECT v.vehicle_id, v.contiguous_seq, v.chain_index, v.head_hash, v.owner, "
              "v.lease_token FROM vehicle_seq v WHERE " +
              which)) {
    const std::string vehicle = row[0].as<std::string>();
    VehicleChain& c = chains[vehicle];
    c.contiguous_seq = row[1].as<uint64_t>();
    c.chain_index = row[2].as<uint64_t>();
    c.head_hash = Bytes(row[3]);
    const std::string owner = row[4].as<std::string>();
    if (owner.empty() || owner == options_.instance) tokens[vehicle] = row[5].as<uint64_t>();
  }
  // Seqs handled above each watermark, and declared gaps not yet joined to it.
  for (const pqxx::row& row :
       t.exec("SELECT v.vehicle_id, r.seq FROM vehicle_seq v JOIN records r ON "
              "r.vehicle_id = v.vehicle_id AND r.seq > v.contiguous_seq WHERE " +
              which +
              " UNION SELECT v.vehicle_id, j.seq FROM vehicle_seq v JOIN rejects j ON "
              "j.vehicle_id = v.vehicle_id AND j.seq > v.contiguous_seq WHERE " +
              which)) {
    chains[row[0].as<std::string>()].handled_above.insert(row[1].as<uint64_t>());
  }
  for (const pqxx::row& row :
       t.exec("SELECT v.vehicle_id, g.first_seq, g.last_seq FROM vehicle_seq v JOIN seq_gaps g "
              "ON g.vehicle_id = v.vehicle_id AND g.last_seq > v.contiguous_seq WHERE " +
              which)) {
    uint64_t& last = chains[row[0].as<std::string>()].gaps_above[row[1].as<uint64_t>()];
    last = std::max(last, row[2].as<uint64_t>());
  }
  for (auto& [vehicle, chain] : chains) {
    PendingChain advance(&chain);
    advance.Advance();
    advance.PublishTo(chain);
  }
}

absl::Status PostgresStore::Load() {
  std::unordered_map<std::string, VehicleChain> chains;
  std::unordered_map<std::string, uint64_t> tokens;
  // Held over the read and the swap, so a takeover committed meanwhile is not overwritten by
  // the older state this read may have seen (reads wait for no row lock: no deadlock).
  std::lock_guard<std::mutex> lease_lock(lease_mu_);
  try {
    pqxx::read_transaction t(*writer_);
    ReadChains(t, "TRUE", chains, tokens);
  } catch (const std::exception& e) {
    return pg::FromException(e, "loading vehicle state from PostgreSQL");
  }
  lease_tokens_ = std::move(tokens);
  std::lock_guard<std::mutex> state_lock(state_mu_);
  chains_ = std::move(chains);
  return absl::OkStatus();
}

absl::Status PostgresStore::EnsureWriter() {
  if (writer_ && writer_->is_open() && !reload_) return absl::OkStatus();
  // A broken connection may have committed the last batch without our knowing: reconnect
  // and rebuild the watermarks and chain heads from what the database holds.
  absl::StatusOr<std::unique_ptr<pqxx::connection>> c = pg::Connect(options_.connection);
  if (!c.ok()) return c.status();
  writer_ = std::move(*c);
  if (absl::Status s = Load(); !s.ok()) return s;
  reload_ = false;
  return absl::OkStatus();
}

absl::Status PostgresStore::LostOwnership(const std::vector<std::string>& vehicles) {
  return absl::FailedPreconditionError(absl::StrCat(
      "this instance no longer owns vehicle ", absl::StrJoin(vehicles, ", "),
      " (another dispatch-server instance took it over); nothing of this commit was stored"));
}

int64_t PostgresStore::LeaseTokenFor(const std::string& vehicle) {
  {
    std::lock_guard<std::mutex> lease_lock(lease_mu_);
    auto it = lease_tokens_.find(vehicle);
    if (it != lease_tokens_.end()) return ClampI64(it->second);
  }
  // A vehicle this instance never saw may be new (no row: the INSERT makes it, token 0); a row
  // that exists was made by another instance, and -1 matches no token.
  std::lock_guard<std::mutex> state_lock(state_mu_);
  return chains_.count(vehicle) != 0 ? -1 : 0;
}

absl::StatusOr<uint64_t> PostgresStore::TakeOwnership(std::string_view vehicle_id) {
  absl::StatusOr<std::optional<uint64_t>> token = TakeOwnershipIf(vehicle_id, std::nullopt);
  if (!token.ok()) return token.status();
  return **token;  // unconditional: always taken
}

absl::StatusOr<std::optional<uint64_t>> PostgresStore::AdoptOwnership(
    std::string_view vehicle_id, const std::string& expected_owner, uint64_t expected_token) {
  return TakeOwnershipIf(vehicle_id, std::make_pair(expected_owner, expected_token));
}

absl::StatusOr<std::optional<uint64_t>> PostgresStore::TakeOwnershipIf(
    std::string_view vehicle_id, std::optional<std::pair<std::string, uint64_t>> expected) {
  if (options_.instance.empty()) {
    return absl::FailedPreconditionError(
        "taking ownership of a vehicle needs this instance's name (PostgresStoreOptions.instance), "
        "unique among the instances sharing the database");
  }
  const std::string vehicle(vehicle_id);
  std::lock_guard<std::mutex> lock(takeover_mu_);
  if (!takeover_conn_ || !takeover_conn_->is_open()) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> c = pg::Connect(options_.connection);
    if (!c.ok()) return c.status();
    takeover_conn_ = std::move(*c);
  }
  std::unordered_map<std::string, VehicleChain> chains;
  std::unordered_map<std::string, uint64_t> tokens;
  uint64_t token = 0;
  try {
    pqxx::work w(*takeover_conn_);
    // No WAL flush (nor standby) wait for a takeover, which stores no record: a fleet moving
    // here after an instance died is taken over at ~1 ms per vehicle instead of a flush each.
    // Safe: the takeover is visible to every instance at once, and WAL is flushed in order, so
    // the first durable commit under the new token makes the takeover durable too; a takeover
    // lost in a database crash (nothing written under it) only leaves this instance's token
    // stale: its commits for the vehicle are refused, and the agent's next Hello takes it over.
    w.exec("SET LOCAL synchronous_commit = off");
    // The row lock taken here waits for a commit of the previous owner that is under way, and
    // every later commit of that owner finds another token and is refused. An adoption updates
    // only the row it read (same owner, same token): of several instances adopting one vehicle
    // at once, the first takes it and the others' condition no longer holds (no row returned).
    std::string sql =
        "INSERT INTO vehicle_seq (vehicle_id, contiguous_seq, chain_index, head_hash, owner, "
        "lease_token) VALUES ($1, 0, 0, $2, $3, 1) ON CONFLICT (vehicle_id) DO UPDATE SET owner = "
        "EXCLUDED.owner, lease_token = vehicle_seq.lease_token + 1";
    if (expected) {
      absl::StrAppend(&sql, " WHERE vehicle_seq.owner = ", w.quote(expected->first),
                      " AND vehicle_seq.lease_token = ", ClampI64(expected->second));
    }
    sql += " RETURNING lease_token";
    const pqxx::result r =
        w.exec_params(sql, vehicle, pqxx::binarystring(kChainGenesis), options_.instance);
    if (r.empty()) return std::optional<uint64_t>();  // another instance was first
    token = r[0][0].as<uint64_t>();
    ReadChains(w, "v.vehicle_id = " + w.quote(vehicle), chains, tokens);
    // The new token becomes visible in the database and in memory at once for a group commit
    // of this instance: its lease check reads the row, then LeaseTokenFor under lease_mu_.
    std::lock_guard<std::mutex> lease_lock(lease_mu_);
    w.commit();
    lease_tokens_[vehicle] = token;
    std::lock_guard<std::mutex> state_lock(state_mu_);
    chains_[vehicle] = std::move(chains[vehicle]);
  } catch (const std::exception& e) {
    // A commit whose outcome is unknown may have raised the token: this instance's commits
    // for the vehicle are then refused, its stream ends and the agent's next Hello takes it
    // over again.
    takeover_conn_.reset();
    return pg::FromException(e, "taking ownership of vehicle " + vehicle);
  }
  return std::optional<uint64_t>(token);
}

absl::Status PostgresStore::Append(AppendBatch& batch) {
  if (batch.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(write_mu_);
  if (absl::Status s = EnsureWriter(); !s.ok()) return s;
  absl::Status s;
  try {
    s = AppendLocked(batch);
  } catch (const std::exception& e) {
    s = pg::FromException(e, "PostgreSQL group commit");
  }
  if (s.code() == absl::StatusCode::kUnavailable) reload_ = true;
  return s;
}

// The fence, checked first: locks the state rows of the batch's vehicles (in name order, so two
// instances never deadlock) and refuses the whole batch when this instance does not hold the
// lease token of one of them. A row made meanwhile for a new vehicle is caught again by the
// conditional upsert of the state rows.
absl::Status PostgresStore::CheckLeases(pqxx::work& w, const AppendBatch& batch) {
  std::set<std::string> vehicles;
  for (const CommittedRecord& r : batch.records) vehicles.insert(r.vehicle_id);
  for (const RejectedRecord& r : batch.rejects) vehicles.insert(r.vehicle_id);
  for (const SeqGap& g : batch.gaps) vehicles.insert(g.vehicle_id);
  std::string in;
  for (const std::string& v : vehicles) absl::StrAppend(&in, in.empty() ? "" : ",", w.quote(v));
  std::vector<std::string> lost;
  for (const pqxx::row& row :
       w.exec("SELECT vehicle_id, lease_token FROM vehicle_seq WHERE vehicle_id IN (" + in +
              ") ORDER BY vehicle_id FOR UPDATE")) {
    const std::string vehicle = row[0].as<std::string>();
    if (row[1].as<int64_t>() != LeaseTokenFor(vehicle)) lost.push_back(vehicle);
  }
  return lost.empty() ? absl::OkStatus() : LostOwnership(lost);
}

absl::Status PostgresStore::AppendLocked(AppendBatch& batch) {
  std::unordered_map<std::string, PendingChain> touched;
  auto chain_of = [&](const std::string& vehicle) -> PendingChain& {
    auto it = touched.find(vehicle);
    if (it != touched.end()) return it->second;
    // The map under state_mu_ (a takeover may add a vehicle meanwhile); the element itself is
    // not changed by a takeover while this commit holds its vehicle's row (CheckLeases).
    std::unique_lock<std::mutex> state_lock(state_mu_);
    auto found = chains_.find(vehicle);
    VehicleChain* base = found != chains_.end() ? &found->second : nullptr;
    state_lock.unlock();
    return touched.emplace(vehicle, PendingChain(base)).first->second;
  };
  pqxx::work w(*writer_);
  if (absl::Status s = CheckLeases(w, batch); !s.ok()) return s;
  // Records go in by COPY (text format): far cheaper for the server than parsing a VALUES list.
  // Each field is a C string, nullptr for SQL NULL; bytea as "\\x<hex>" (the stream escapes
  // the backslash for COPY).
  std::optional<pqxx::stream_to> copy;
  if (!batch.records.empty()) {
    copy.emplace(
        w, "records",
        std::vector<std::string>{"vehicle_id", "seq", "chain_index", "event_time_ns",
                                 "agent_time_ns", "agent_monotonic_ns", "agent_boot",
                                 "server_time_ns", "kind", "lat_deg", "lon_deg", "body", "hash"});
  }
  std::string f[12];
  for (CommittedRecord& rec : batch.records) {
    PendingChain& c = chain_of(rec.vehicle_id);
    const uint64_t seq = rec.record.seq();
    if (seq == 0 || !c.Mark(seq)) {
      return absl::AlreadyExistsError(
          absl::StrCat("record ", rec.vehicle_id, " seq ", seq, " is already handled"));
    }
    if (rec.body.empty()) rec.body = SerializeRecordBody(rec.record);  // not made by an ingest
    const int64_t server_ns = ToUnixNs(rec.server_received_time);
    // The transaction aborts on failure: nothing is stored.
    if (absl::Status s =
            RecordChainStep(c.head_hash, rec.vehicle_id, seq, server_ns, rec.body, &c.head_hash);
        !s.ok()) {
      return s;
    }
    const uint64_t chain_index = c.chain_index + 1;
    const bool fix = rec.record.has_fix();
    const bool agent_time = rec.record.has_agent_time();
    f[0] = std::to_string(seq);
    f[1] = std::to_string(chain_index);
    f[2] = std::to_string(TimestampNs(rec.record.event_time()));
    f[3] = agent_time ? std::to_string(TimestampNs(rec.record.agent_time())) : "";
    f[4] = std::to_string(static_cast<int64_t>(rec.record.agent_monotonic_ns()));
    f[5] = std::to_string(static_cast<int64_t>(rec.record.agent_boot()));
    f[6] = std::to_string(server_ns);
    f[7] = std::to_string(static_cast<int>(rec.record.payload_case()));
    f[8] = fix ? CopyFloat8(rec.record.fix().lat_deg()) : "";
    f[9] = fix ? CopyFloat8(rec.record.fix().lon_deg()) : "";
    f[10] = HexBytea(rec.body);
    f[11] = HexBytea(c.head_hash);
    *copy << std::make_tuple(rec.vehicle_id.c_str(), f[0].c_str(), f[1].c_str(), f[2].c_str(),
                             agent_time ? f[3].c_str() : nullptr, f[4].c_str(), f[5].c_str(),
                             f[6].c_str(), f[7].c_str(), fix ? f[8].c_str() : nullptr,
                             fix ? f[9].c_str() : nullptr, f[10].c_str(), f[11].c_str());
    c.chain_index = chain_index;
    rec.chain_index = chain_index;
  }
  if (copy) copy->complete();  // a duplicate key surfaces here (unique_violation)

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
  MultiInsert gaps(w, "seq_gaps (vehicle_id, first_seq, last_seq, server_time_ns)");
  for (const SeqGap& gap : batch.gaps) {
    if (gap.first_seq == 0 || gap.last_seq < gap.first_seq) {
      return absl::InvalidArgumentError("seq gap must be a non-empty range above 0");
    }
    chain_of(gap.vehicle_id).AddGap(gap.first_seq, gap.last_seq);
    gaps.Add(fmt::format("{},{},{},{}", w.quote(gap.vehicle_id), ClampI64(gap.first_seq),
                         ClampI64(gap.last_seq), ToUnixNs(gap.server_time)));
  }
  gaps.Flush();
  // The fence: a vehicle's state row is updated only with the lease token this instance holds
  // for it; a row another instance took meanwhile is not returned, and nothing is committed.
  std::set<std::string> written;
  MultiInsert heads(
      w, "vehicle_seq (vehicle_id, contiguous_seq, chain_index, head_hash, lease_token)",
      " ON CONFLICT (vehicle_id) DO UPDATE SET contiguous_seq = EXCLUDED.contiguous_seq, "
      "chain_index = EXCLUDED.chain_index, head_hash = EXCLUDED.head_hash WHERE "
      "vehicle_seq.lease_token = EXCLUDED.lease_token RETURNING vehicle_id",
      [&](const pqxx::result& r) {
        for (const pqxx::row& row : r) written.insert(row[0].as<std::string>());
      });
  for (auto& [vehicle, c] : touched) {
    c.Advance();
    heads.Add(fmt::format("{},{},{},{},{}", w.quote(vehicle), ClampI64(c.contiguous_seq),
                          c.chain_index, Bytea(w, c.head_hash), LeaseTokenFor(vehicle)));
  }
  heads.Flush();
  if (written.size() != touched.size()) {
    std::vector<std::string> lost;
    for (const auto& [vehicle, c] : touched) {
      if (written.count(vehicle) == 0) lost.push_back(vehicle);
    }
    std::sort(lost.begin(), lost.end());
    return LostOwnership(lost);
  }

  // Rejects: only the newest reject_samples_per_reason of each vehicle and reason in this batch
  // can survive the prune; the others are written only while the watermark still needs them.
  const size_t samples = options_.reject_samples_per_reason;
  std::vector<bool> sampled(batch.rejects.size());
  std::map<std::pair<std::string_view, int>, size_t> newer;
  for (size_t i = batch.rejects.size(); i-- > 0;) {
    const RejectedRecord& rej = batch.rejects[i];
    sampled[i] = newer[{rej.vehicle_id, static_cast<int>(rej.reason)}]++ < samples;
  }
  MultiInsert rejects(w, "rejects (vehicle_id, seq, reason, detail, raw, server_time_ns)");
  for (size_t i = 0; i < batch.rejects.size(); ++i) {  // in order: ids keep the arrival order
    const RejectedRecord& rej = batch.rejects[i];
    const bool above = rej.seq != 0 && rej.seq > touched.at(rej.vehicle_id).contiguous_seq;
    if (!sampled[i] && !above) continue;
    rejects.Add(fmt::format("{},{},{},{},{},{}", w.quote(rej.vehicle_id), ClampI64(rej.seq),
                            static_cast<int>(rej.reason),
                            w.quote(sampled[i] ? rej.detail : std::string("(not sampled)")),
                            Bytea(w, sampled[i] ? std::string_view(rej.raw) : std::string_view()),
                            ToUnixNs(rej.server_received_time)));
  }
  rejects.Flush();
  MultiInsert counts(w, "reject_counts (vehicle_id, reason, count, first_time_ns, last_time_ns)",
                     " ON CONFLICT (vehicle_id, reason) DO UPDATE SET count = reject_counts.count "
                     "+ EXCLUDED.count, last_time_ns = EXCLUDED.last_time_ns");
  for (const auto& [key, t] : tallies) {
    counts.Add(fmt::format("{},{},{},{},{}", w.quote(key.first), key.second, t.count, t.first_ns,
                           t.last_ns));
  }
  counts.Flush();
  for (const auto& [key, t] : tallies) {
    // Keeps the newest samples among those the watermark has passed (rows above it rebuild
    // the watermark after a restart).
    w.exec_params(
        "DELETE FROM rejects WHERE id IN (SELECT id FROM rejects WHERE vehicle_id = $1 AND "
        "reason = $2 AND seq <= $3 ORDER BY id DESC OFFSET $4)",
        key.first, key.second, ClampI64(touched.at(key.first).contiguous_seq),
        static_cast<int64_t>(samples));
  }
  w.commit();  // synchronous_commit = on: durable when this returns

  std::lock_guard<std::mutex> lease_lock(lease_mu_);
  for (const auto& [vehicle, c] : touched) {
    lease_tokens_.try_emplace(vehicle, 0);  // a row this commit made (token 0) is ours to write
  }
  std::lock_guard<std::mutex> state_lock(state_mu_);
  uint64_t work = 0;
  for (auto& [vehicle, c] : touched) {
    c.PublishTo(chains_[vehicle]);
    work += c.work;
  }
  watermark_work_.fetch_add(work, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PostgresStore::HighestContiguousSeq(std::string_view vehicle_id) {
  std::lock_guard<std::mutex> lock(state_mu_);
  auto it = chains_.find(std::string(vehicle_id));
  return it == chains_.end() ? 0 : it->second.contiguous_seq;
}

absl::StatusOr<std::vector<VehicleSeqState>> PostgresStore::LoadVehicleStates() {
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

absl::StatusOr<std::vector<StoredRecord>> PostgresStore::ReadBySeq(std::string_view vehicle_id,
                                                                   uint64_t first_seq,
                                                                   uint64_t last_seq,
                                                                   size_t limit) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<std::vector<StoredRecord>> {
    pqxx::read_transaction t(c);
    t.exec(kPgRecordScanSettingsSql);
    return ReadRows(t.exec_params(kPgRecordsBySeqSql, std::string(vehicle_id), ClampI64(first_seq),
                                  ClampI64(last_seq), ClampI64(limit)));
  });
}

absl::StatusOr<std::vector<StoredRecord>> PostgresStore::ReadByEventTime(
    std::string_view vehicle_id, Clock::time_point from, Clock::time_point to, size_t limit) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<std::vector<StoredRecord>> {
    pqxx::read_transaction t(c);
    t.exec(kPgRecordScanSettingsSql);
    return ReadRows(t.exec_params(kPgRecordsByEventTimeSql, std::string(vehicle_id), ToUnixNs(from),
                                  ToUnixNs(to), ClampI64(limit)));
  });
}

absl::StatusOr<std::vector<StoredRecord>> PostgresStore::ReadPage(const RecordPageQuery& query) {
  // The scan's rows, each body parsed once, straight into the page's record.
  RecordPageQuery q = query;
  q.parse_body = false;
  std::vector<StoredRecord> out;
  absl::Status parsed;
  absl::StatusOr<size_t> n = ScanPage(q, [&](const RecordView& v) {
    if (!parsed.ok()) return;
    StoredRecord& r = out.emplace_back();
    r.vehicle_id = query.vehicle_id;
    r.chain_index = v.chain_index;
    r.server_received_time = FromUnixNs(v.server_time_ns);
    r.hash.assign(v.hash);
    if (!r.record.ParseFromArray(v.body.data(), static_cast<int>(v.body.size()))) {
      parsed = absl::DataLossError(
          absl::StrCat("stored body of ", query.vehicle_id, " seq ", v.seq, " does not parse"));
    }
  });
  if (!n.ok()) return n.status();
  if (!parsed.ok()) return parsed;
  return out;
}

absl::StatusOr<size_t> PostgresStore::ScanPage(const RecordPageQuery& query,
                                               const std::function<void(const RecordView&)>& fn) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<size_t> {
    // One snapshot for every chunk: rows committed meanwhile never show up halfway through.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);
    return ScanPostgresRecords(t, query, fn);
  });
}

absl::StatusOr<uint64_t> PostgresStore::ChainLength(std::string_view vehicle_id) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
    pqxx::read_transaction t(c);
    pqxx::result r = t.exec_params("SELECT chain_index FROM vehicle_seq WHERE vehicle_id = $1",
                                   std::string(vehicle_id));
    return r.empty() ? 0 : r[0][0].as<uint64_t>();
  });
}

absl::StatusOr<std::vector<RejectedRecord>> PostgresStore::ReadRejects(std::string_view vehicle_id,
                                                                       size_t limit) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<std::vector<RejectedRecord>> {
    pqxx::read_transaction t(c);
    std::vector<RejectedRecord> out;
    for (const pqxx::row& row :
         t.exec_params("SELECT vehicle_id, seq, reason, detail, raw, server_time_ns FROM rejects "
                       "WHERE vehicle_id = $1 ORDER BY id LIMIT $2",
                       std::string(vehicle_id), ClampI64(limit))) {
      RejectedRecord r;
      r.vehicle_id = row[0].as<std::string>();
      r.seq = row[1].as<uint64_t>();
      r.reason = static_cast<cit::v1::RejectReason>(row[2].as<int>());
      r.detail = row[3].as<std::string>();
      r.raw = Bytes(row[4]);
      r.server_received_time = FromUnixNs(row[5].as<int64_t>());
      out.push_back(std::move(r));
    }
    return out;
  });
}

absl::StatusOr<std::vector<RejectCount>> PostgresStore::ReadRejectCounts(
    std::string_view vehicle_id) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<std::vector<RejectCount>> {
    pqxx::read_transaction t(c);
    std::vector<RejectCount> out;
    for (const pqxx::row& row :
         t.exec_params("SELECT reason, count, first_time_ns, last_time_ns FROM reject_counts "
                       "WHERE vehicle_id = $1 ORDER BY reason",
                       std::string(vehicle_id))) {
      RejectCount rc;
      rc.reason = static_cast<cit::v1::RejectReason>(row[0].as<int>());
      rc.count = row[1].as<uint64_t>();
      rc.first_time = FromUnixNs(row[2].as<int64_t>());
      rc.last_time = FromUnixNs(row[3].as<int64_t>());
      out.push_back(rc);
    }
    return out;
  });
}

absl::StatusOr<ChainVerification> PostgresStore::VerifyChain(std::string_view vehicle_id) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<ChainVerification> {
    // One repeatable-read snapshot: consistent while the ingest appends.
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> t(c);
    ChainVerification v;
    auto fail = [&](uint64_t seq, std::string detail) {
      v.ok = false;
      v.first_bad_seq = seq;
      v.detail = absl::StrCat("seq ", seq, ": ", detail);
    };
    std::string head = kChainGenesis;
    uint64_t expected_index = 1;
    // Streamed in chain order so a long chain is never held in memory at once.
    pqxx::icursorstream rows(
        t,
        fmt::format("SELECT seq, chain_index, server_time_ns, body, hash FROM records "
                    "WHERE vehicle_id = {} ORDER BY chain_index",
                    t.quote(std::string(vehicle_id))),
        "verify_chain", 1000);
    pqxx::result block;
    while (v.ok && (rows >> block)) {
      for (const pqxx::row& row : block) {
        const uint64_t seq = row[0].as<uint64_t>();
        const std::string body = Bytes(row[3]);
        if (row[1].as<uint64_t>() != expected_index) {
          fail(seq, fmt::format("chain_index {} where {} was expected", row[1].as<uint64_t>(),
                                expected_index));
          break;
        }
        cit::v1::Record parsed;
        if (!parsed.ParseFromString(body) || parsed.seq() != seq) {
          fail(seq, "body does not parse or names another seq");
          break;
        }
        absl::StatusOr<std::string> h =
            ChainStep(head, CanonicalRecordBytes(vehicle_id, seq, row[2].as<int64_t>(), body));
        if (!h.ok()) return h.status();
        if (*h != Bytes(row[4])) {
          fail(seq, "stored hash does not match the recomputed chain");
          break;
        }
        head = *std::move(h);
        ++expected_index;
        ++v.records_checked;
      }
    }
    if (!v.ok) return v;
    pqxx::result hr =
        t.exec_params("SELECT chain_index, head_hash FROM vehicle_seq WHERE vehicle_id = $1",
                      std::string(vehicle_id));
    const uint64_t stored_len = hr.empty() ? 0 : hr[0][0].as<uint64_t>();
    if (stored_len != v.records_checked || (!hr.empty() && Bytes(hr[0][1]) != head)) {
      v.ok = false;
      v.detail = fmt::format("chain head row says {} records, {} found, or its hash differs",
                             stored_len, v.records_checked);
    }
    if (v.ok && v.records_checked > 0) v.head = head;
    return v;
  });
}

absl::StatusOr<std::vector<std::string>> PostgresStore::ListVehicles() {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::string>> {
    pqxx::read_transaction t(c);
    std::vector<std::string> out;
    for (const pqxx::row& row : t.exec("SELECT vehicle_id FROM vehicle_seq WHERE chain_index > 0 "
                                       "ORDER BY vehicle_id COLLATE \"C\"")) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  });
}

absl::StatusOr<uint64_t> PostgresStore::CountRecords(std::string_view vehicle_id) {
  return WithReader([&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
    pqxx::read_transaction t(c);
    return t
        .exec_params1("SELECT COUNT(*) FROM records WHERE vehicle_id = $1",
                      std::string(vehicle_id))[0]
        .as<uint64_t>();
  });
}

}  // namespace cit::dispatch
