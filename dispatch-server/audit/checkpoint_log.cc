#include "dispatch-server/audit/checkpoint_log.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "dispatch-server/audit/postgres_audit_log.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

constexpr sqlite::Migration kCheckpointMigrations[] = {
    {1, "signed checkpoints of every chain head (append-only)",
     R"sql(
CREATE TABLE checkpoints (
  checkpoint_id INTEGER PRIMARY KEY CHECK (checkpoint_id > 0),
  time_ns       INTEGER NOT NULL,
  reason        TEXT    NOT NULL,
  key_id        TEXT    NOT NULL,
  body          BLOB    NOT NULL,  -- cit.v1.Checkpoint, exactly the bytes signed
  signature     BLOB    NOT NULL   -- Ed25519 over body
);
CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
)sql"},
};

int64_t Nanos(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

absl::StatusOr<std::string> Sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 of the previous checkpoint failed in OpenSSL");
  }
  return out;
}

absl::StatusOr<bool> HasTable(sqlite::Database& db, std::string_view table) {
  absl::StatusOr<sqlite::Statement> q =
      db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  if (!q.ok()) return q.status();
  q->Bind(1, table);
  return q->Step();
}

// Every chain head now (inside the caller's transaction).
absl::StatusOr<std::vector<cit::v1::ChainHead>> CurrentHeads(sqlite::Database& db) {
  std::vector<cit::v1::ChainHead> heads;
  absl::StatusOr<bool> has = HasTable(db, "vehicle_seq");
  if (!has.ok()) return has.status();
  if (*has) {
    absl::StatusOr<sqlite::Statement> q = db.Prepare(
        "SELECT v.vehicle_id, v.chain_index, v.head_hash, v.contiguous_seq, r.seq "
        "FROM vehicle_seq v LEFT JOIN records r ON r.vehicle_id = v.vehicle_id AND "
        "r.chain_index = v.chain_index WHERE v.chain_index > 0 ORDER BY v.vehicle_id");
    if (!q.ok()) return q.status();
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      cit::v1::ChainHead h;
      h.set_chain(absl::StrCat("records/", q->ColumnText(0)));
      h.set_length(static_cast<uint64_t>(q->ColumnInt64(1)));
      h.set_head(q->ColumnBlob(2));
      h.set_contiguous_seq(static_cast<uint64_t>(q->ColumnInt64(3)));
      h.set_last_seq(static_cast<uint64_t>(q->ColumnOptionalInt64(4).value_or(0)));
      heads.push_back(std::move(h));
    }
  }
  struct Server {
    const char* chain;
    const char* table;
    const char* sql;
  } servers[] = {
      {"plans", "plan_events", "SELECT idx, hash FROM plan_events ORDER BY idx DESC LIMIT 1"},
      {"alerts", "alert_events",
       "SELECT chain_index, hash FROM alert_events WHERE chain_index IS NOT NULL "
       "ORDER BY chain_index DESC LIMIT 1"},
      {"identities", "identity_events",
       "SELECT idx, hash FROM identity_events ORDER BY idx DESC LIMIT 1"},
  };
  for (const Server& s : servers) {
    absl::StatusOr<bool> exists = HasTable(db, s.table);
    if (!exists.ok()) return exists.status();
    if (!*exists) continue;
    absl::StatusOr<sqlite::Statement> q = db.Prepare(s.sql);
    if (!q.ok()) return q.status();
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    cit::v1::ChainHead h;
    h.set_chain(s.chain);
    if (*row) {
      h.set_length(static_cast<uint64_t>(q->ColumnInt64(0)));
      h.set_head(q->ColumnBlob(1));
    } else {
      h.set_head(std::string(32, '\0'));
    }
    heads.push_back(std::move(h));
  }
  return heads;
}

absl::StatusOr<cit::v1::SignedCheckpoint> FromRow(const sqlite::Statement& q) {
  cit::v1::SignedCheckpoint c;
  c.set_body(q.ColumnBlob(0));
  c.set_signature(q.ColumnBlob(1));
  if (!c.mutable_checkpoint()->ParseFromString(c.body())) {
    return absl::DataLossError(
        absl::StrCat("checkpoint body does not parse (row ", q.ColumnInt64(2), ")"));
  }
  return c;
}

}  // namespace

absl::Status CheckpointLog::Migrate(sqlite::Database& db) {
  return sqlite::ApplyMigrations(db, "checkpoints", kCheckpointMigrations);
}

absl::StatusOr<std::unique_ptr<CheckpointLog>> CheckpointLog::Open(
    const std::filesystem::path& path, CheckpointKey key, ChainHeadSource store_heads) {
  if (!key.has_private()) return absl::InvalidArgumentError("checkpoint key: no private key");
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path);
  if (!db.ok()) return db.status();
  if (absl::Status s = Migrate(**db); !s.ok()) return s;
  return std::unique_ptr<CheckpointLog>(
      new CheckpointLog(std::move(*db), std::move(key), std::move(store_heads)));
}

absl::StatusOr<std::unique_ptr<CheckpointLog>> CheckpointLog::OpenPostgres(
    std::shared_ptr<PostgresAuditLog> log, CheckpointKey key, std::string instance,
    ChainHeadSource heads) {
  if (!key.has_private()) return absl::InvalidArgumentError("checkpoint key: no private key");
  if (log == nullptr || heads == nullptr) {
    return absl::InvalidArgumentError("checkpoint log on PostgreSQL: no database or no heads");
  }
  std::unique_ptr<CheckpointLog> out(new CheckpointLog(nullptr, std::move(key), std::move(heads)));
  out->pg_ = std::move(log);
  out->instance_ = std::move(instance);
  return out;
}

absl::StatusOr<cit::v1::SignedCheckpoint> CheckpointLog::Build(
    std::vector<cit::v1::ChainHead> heads, const cit::v1::SignedCheckpoint* prev,
    const std::string& reason, std::chrono::system_clock::time_point now, bool always) {
  cit::v1::Checkpoint cp;
  for (cit::v1::ChainHead& h : heads) {
    auto it = signed_.find(h.chain());
    if (!first_ && it != signed_.end() && it->second.first == h.length() &&
        it->second.second == h.head()) {
      continue;
    }
    *cp.add_heads() = std::move(h);
  }
  if (!always && cp.heads_size() == 0) return cit::v1::SignedCheckpoint();
  const uint64_t id = prev != nullptr ? prev->checkpoint().checkpoint_id() + 1 : 1;
  absl::StatusOr<std::string> prev_sha =
      prev != nullptr ? Sha256(prev->body()) : absl::StatusOr<std::string>(std::string(32, '\0'));
  if (!prev_sha.ok()) return prev_sha.status();
  cp.set_checkpoint_id(id);
  const int64_t ns = Nanos(now);
  cp.mutable_time()->set_seconds(ns / 1'000'000'000);
  cp.mutable_time()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  cp.set_prev_body_sha256(*prev_sha);
  cp.set_key_id(key_.KeyId());
  cp.set_reason(reason);
  cp.set_instance(instance_);
  cit::v1::SignedCheckpoint out;
  out.set_body(SerializeDeterministic(cp));
  absl::StatusOr<std::string> sig = key_.Sign(out.body());
  if (!sig.ok()) return sig.status();  // nothing written: no unsigned checkpoint
  out.set_signature(*sig);
  *out.mutable_checkpoint() = std::move(cp);
  return out;
}

void CheckpointLog::Remember(const cit::v1::Checkpoint& cp) {
  for (const cit::v1::ChainHead& h : cp.heads()) signed_[h.chain()] = {h.length(), h.head()};
  first_ = false;
}

absl::StatusOr<cit::v1::SignedCheckpoint> CheckpointLog::AppendToPostgres(
    const std::string& reason, std::chrono::system_clock::time_point now, bool always) {
  // The heads are read under the writer lock: after the previous checkpoint (of any instance)
  // committed, so lengths along the shared chain never go back.
  absl::StatusOr<cit::v1::SignedCheckpoint> out = pg_->AppendCheckpoint(
      instance_, key_.PublicPem(),
      [&](const cit::v1::SignedCheckpoint* prev) -> absl::StatusOr<cit::v1::SignedCheckpoint> {
        absl::StatusOr<std::vector<cit::v1::ChainHead>> heads = store_heads_();
        if (!heads.ok()) return heads.status();  // nothing written
        return Build(*std::move(heads), prev, reason, now, always);
      });
  if (out.ok() && !out->body().empty()) Remember(out->checkpoint());
  return out;
}

absl::StatusOr<cit::v1::SignedCheckpoint> CheckpointLog::Append(
    const std::string& reason, std::chrono::system_clock::time_point now, bool always) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pg_ != nullptr) return AppendToPostgres(reason, now, always);
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  absl::StatusOr<std::vector<cit::v1::ChainHead>> heads = CurrentHeads(*db_);
  if (!heads.ok()) return heads.status();
  if (store_heads_) {
    absl::StatusOr<std::vector<cit::v1::ChainHead>> store = store_heads_();
    if (!store.ok()) return store.status();  // nothing written
    heads->insert(heads->begin(), store->begin(), store->end());
  }
  absl::StatusOr<cit::v1::SignedCheckpoint> prev = ReadCheckpoint(*db_, 0);
  if (!prev.ok() && prev.status().code() != absl::StatusCode::kNotFound) return prev.status();
  absl::StatusOr<cit::v1::SignedCheckpoint> out =
      Build(*std::move(heads), prev.ok() ? &*prev : nullptr, reason, now, always);
  if (!out.ok() || out->body().empty()) return out;
  const cit::v1::Checkpoint& cp = out->checkpoint();
  absl::StatusOr<sqlite::Statement> ins = db_->Prepare(
      "INSERT INTO checkpoints (checkpoint_id, time_ns, reason, key_id, body, signature) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, cp.checkpoint_id())
      .Bind(2, Nanos(now))
      .Bind(3, reason)
      .Bind(4, key_.KeyId())
      .Bind(5, sqlite::Blob(out->body()))
      .Bind(6, sqlite::Blob(out->signature()));
  if (absl::Status s = ins->Run(); !s.ok()) return s;
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  Remember(cp);
  return out;
}

absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> ReadCheckpoints(sqlite::Database& db,
                                                                       uint64_t after_id,
                                                                       size_t limit) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT body, signature, checkpoint_id FROM checkpoints WHERE checkpoint_id > ?1 "
      "ORDER BY checkpoint_id LIMIT ?2");
  if (!q.ok()) return q.status();
  q->Bind(1, after_id).Bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<cit::v1::SignedCheckpoint> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<cit::v1::SignedCheckpoint> c = FromRow(*q);
    if (!c.ok()) return c.status();
    out.push_back(*std::move(c));
  }
  return out;
}

absl::StatusOr<cit::v1::SignedCheckpoint> ReadCheckpoint(sqlite::Database& db, uint64_t id) {
  absl::StatusOr<sqlite::Statement> q =
      id == 0 ? db.Prepare(
                    "SELECT body, signature, checkpoint_id FROM checkpoints "
                    "ORDER BY checkpoint_id DESC LIMIT 1")
              : db.Prepare(
                    "SELECT body, signature, checkpoint_id FROM checkpoints "
                    "WHERE checkpoint_id = ?1");
  if (!q.ok()) return q.status();
  if (id != 0) q->Bind(1, id);
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return absl::NotFoundError(id == 0 ? std::string("no checkpoint stored yet")
                                       : absl::StrCat("no checkpoint ", id));
  }
  return FromRow(*q);
}

}  // namespace cit::dispatch
