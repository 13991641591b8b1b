#include "dispatch-server/audit/postgres_audit_log.h"

#include <algorithm>
#include <cstdint>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dispatch-server/store/identity_chain.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

// The same columns as the SQLite tables (checkpoint_log.cc, identity_chain.cc), plus the
// instance and the signer's public key on each checkpoint.
const std::string kAuditLogSchemaSql = absl::StrCat(pg::kServerRoleSql, pg::kAppendOnlySql, R"sql(
CREATE TABLE checkpoints (
  checkpoint_id  bigint PRIMARY KEY CHECK (checkpoint_id > 0),  -- one chain for every instance
  instance       text   NOT NULL,
  time_ns        bigint NOT NULL,
  reason         text   NOT NULL,
  key_id         text   NOT NULL,
  public_key_pem text   NOT NULL,
  body           bytea  NOT NULL,  -- cit.v1.Checkpoint, exactly the bytes signed
  signature      bytea  NOT NULL   -- Ed25519 over body
);
CREATE TABLE identity_events (
  idx               bigint  PRIMARY KEY CHECK (idx > 0),  -- position in the identity chain
  time_ns           bigint  NOT NULL,
  change            integer NOT NULL,                     -- cit.v1.IdentityChange
  name              text    NOT NULL,
  role              text    NOT NULL,
  token_fingerprint text    NOT NULL,
  body              bytea   NOT NULL,                     -- IdentityEvent, as hashed
  hash              bytea   NOT NULL
);
CREATE INDEX identity_events_by_name ON identity_events (name, idx);
-- Each append locks its chain's row first and reads the head in the same transaction, so
-- instances extend one chain one after the other instead of forking it.
CREATE TABLE audit_log_writer (
  chain text PRIMARY KEY CHECK (chain IN ('checkpoints', 'identities'))
);
INSERT INTO audit_log_writer VALUES ('checkpoints'), ('identities');
REVOKE ALL ON checkpoints, identity_events, audit_log_writer FROM PUBLIC;
GRANT SELECT, INSERT ON checkpoints, identity_events TO citwatch_server;
GRANT SELECT, UPDATE ON audit_log_writer TO citwatch_server;
)sql",
                                                    pg::AppendOnlyTriggersSql("checkpoints"),
                                                    pg::AppendOnlyTriggersSql("identity_events"));

// Released versions are never edited.
const pg::Migration kMigrations[] = {
    {1, "signed checkpoints and the identity log, one chain each for every instance",
     kAuditLogSchemaSql},
};

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

void LockChain(pqxx::work& w, const char* chain) {
  w.exec_params("SELECT chain FROM audit_log_writer WHERE chain = $1 FOR UPDATE",
                std::string(chain));
}

absl::StatusOr<cit::v1::SignedCheckpoint> FromRow(const pqxx::row& r) {
  cit::v1::SignedCheckpoint c;
  c.set_body(pg::Bytes(r[0]));
  c.set_signature(pg::Bytes(r[1]));
  c.set_public_key_pem(r[3].as<std::string>());
  if (!c.mutable_checkpoint()->ParseFromString(c.body())) {
    return absl::DataLossError(
        absl::StrCat("checkpoint body does not parse (row ", r[2].as<int64_t>(), ")"));
  }
  return c;
}

absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> FromRows(const pqxx::result& rows) {
  std::vector<cit::v1::SignedCheckpoint> out;
  out.reserve(rows.size());
  for (const pqxx::row& r : rows) {
    absl::StatusOr<cit::v1::SignedCheckpoint> c = FromRow(r);
    if (!c.ok()) return c.status();
    out.push_back(*std::move(c));
  }
  return out;
}

constexpr char kCheckpointColumns[] = "body, signature, checkpoint_id, public_key_pem";

absl::StatusOr<std::vector<cit::v1::IdentityEvent>> IdentityRows(pqxx::transaction_base& t,
                                                                 uint64_t after_index, size_t limit,
                                                                 const std::string& name) {
  const pqxx::result rows = t.exec_params(
      "SELECT body, idx FROM identity_events WHERE idx > $1 AND ($2 = '' OR name = $2) "
      "ORDER BY idx LIMIT $3",
      static_cast<int64_t>(std::min<uint64_t>(after_index, INT64_MAX)), name,
      static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<cit::v1::IdentityEvent> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!out[i].ParseFromString(pg::Bytes(rows[i][0]))) {
      return absl::DataLossError(absl::StrCat("identity event ", rows[i][1].as<int64_t>(),
                                              " does not parse; run `dispatchctl audit verify "
                                              "--identities` to see what was changed"));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresAuditLog>> PostgresAuditLog::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  absl::Status migrated = (*session)->Run("migrating checkpoints", [](pqxx::connection& c) {
    return pg::ApplyMigrations(c, "checkpoints", kMigrations);
  });
  if (!migrated.ok()) return migrated;
  return std::unique_ptr<PostgresAuditLog>(new PostgresAuditLog(*std::move(session)));
}

absl::StatusOr<cit::v1::SignedCheckpoint> PostgresAuditLog::AppendCheckpoint(
    const std::string& instance, const std::string& public_key_pem, const BuildCheckpoint& build) {
  return session_->Run(
      "writing a checkpoint",
      [&](pqxx::connection& c) -> absl::StatusOr<cit::v1::SignedCheckpoint> {
        pqxx::work w(c);
        LockChain(w, "checkpoints");
        const pqxx::result newest =
            w.exec(absl::StrCat("SELECT ", kCheckpointColumns,
                                " FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1"));
        std::optional<cit::v1::SignedCheckpoint> prev;
        if (!newest.empty()) {
          absl::StatusOr<cit::v1::SignedCheckpoint> p = FromRow(newest[0]);
          if (!p.ok()) return p.status();
          prev = *std::move(p);
        }
        absl::StatusOr<cit::v1::SignedCheckpoint> next = build(prev ? &*prev : nullptr);
        if (!next.ok() || next->body().empty()) return next;  // rolled back: nothing written
        const cit::v1::Checkpoint& cp = next->checkpoint();
        w.exec_params(
            "INSERT INTO checkpoints (checkpoint_id, instance, time_ns, reason, key_id, "
            "public_key_pem, body, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            static_cast<int64_t>(cp.checkpoint_id()), instance, Nanos(cp.time()), cp.reason(),
            cp.key_id(), public_key_pem, pqxx::binarystring(next->body()),
            pqxx::binarystring(next->signature()));
        w.commit();
        next->set_public_key_pem(public_key_pem);
        return next;
      });
}

absl::StatusOr<std::optional<cit::v1::IdentityEvent>> PostgresAuditLog::AppendIdentityChange(
    const NextIdentity& next) {
  return session_->Run(
      "writing the identity log",
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<cit::v1::IdentityEvent>> {
        pqxx::work w(c);
        LockChain(w, "identities");
        absl::StatusOr<std::vector<cit::v1::IdentityEvent>> history =
            IdentityRows(w, 0, SIZE_MAX, "");
        if (!history.ok()) return history.status();
        absl::StatusOr<std::optional<cit::v1::IdentityEvent>> event = next(*history);
        if (!event.ok() || !event->has_value()) return event;
        IdentityChainHead head{0, kChainGenesis};
        const pqxx::result last =
            w.exec("SELECT idx, hash FROM identity_events ORDER BY idx DESC LIMIT 1");
        if (!last.empty()) head = {last[0][0].as<uint64_t>(), pg::Bytes(last[0][1])};
        absl::StatusOr<IdentityEntry> entry = NextIdentityEntry(head, **std::move(event));
        if (!entry.ok()) return entry.status();
        const cit::v1::IdentityEvent& e = entry->event;
        w.exec_params(
            "INSERT INTO identity_events (idx, time_ns, change, name, role, token_fingerprint, "
            "body, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            static_cast<int64_t>(e.index()), Nanos(e.time()), static_cast<int>(e.change()),
            e.name(), e.role(), e.token_fingerprint(), pqxx::binarystring(entry->body),
            pqxx::binarystring(entry->hash));
        w.commit();
        return std::optional<cit::v1::IdentityEvent>(e);
      });
}

absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> PostgresAuditLog::ReadCheckpoints(
    uint64_t after_id, size_t limit) {
  return session_->Run(
      "reading checkpoints",
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<cit::v1::SignedCheckpoint>> {
        pqxx::read_transaction t(c);
        return FromRows(t.exec_params(
            absl::StrCat("SELECT ", kCheckpointColumns,
                         " FROM checkpoints WHERE checkpoint_id > $1 ORDER BY checkpoint_id "
                         "LIMIT $2"),
            static_cast<int64_t>(std::min<uint64_t>(after_id, INT64_MAX)),
            static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
      });
}

absl::StatusOr<cit::v1::SignedCheckpoint> PostgresAuditLog::ReadCheckpoint(uint64_t id) {
  return session_->Run(
      "reading a checkpoint",
      [&](pqxx::connection& c) -> absl::StatusOr<cit::v1::SignedCheckpoint> {
        pqxx::read_transaction t(c);
        const pqxx::result r =
            id == 0 ? t.exec(absl::StrCat("SELECT ", kCheckpointColumns,
                                          " FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1"))
                    : t.exec_params(absl::StrCat("SELECT ", kCheckpointColumns,
                                                 " FROM checkpoints WHERE checkpoint_id = $1"),
                                    static_cast<int64_t>(std::min<uint64_t>(id, INT64_MAX)));
        if (r.empty()) {
          return absl::NotFoundError(id == 0 ? std::string("no checkpoint stored yet")
                                             : absl::StrCat("no checkpoint ", id));
        }
        return FromRow(r[0]);
      });
}

absl::StatusOr<std::vector<cit::v1::IdentityEvent>> PostgresAuditLog::ReadIdentityEvents(
    uint64_t after_index, size_t limit, const std::string& name) {
  return session_->Run(
      "reading the identity log",
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<cit::v1::IdentityEvent>> {
        pqxx::read_transaction t(c);
        return IdentityRows(t, after_index, limit, name);
      });
}

}  // namespace cit::dispatch
