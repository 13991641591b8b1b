#include "dispatch-server/store/identity_chain.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

constexpr std::string_view kIdentityDomain = "citwatch.identity.v1";

constexpr sqlite::Migration kIdentityMigrations[] = {
    {1, "identity log: append-only, hash-chained token/role changes",
     R"sql(
CREATE TABLE identity_events (
  idx               INTEGER PRIMARY KEY CHECK (idx > 0),  -- position in the identity chain
  time_ns           INTEGER NOT NULL,
  change            INTEGER NOT NULL,                     -- cit.v1.IdentityChange
  name              TEXT    NOT NULL,
  role              TEXT    NOT NULL,
  token_fingerprint TEXT    NOT NULL,
  body              BLOB    NOT NULL,                     -- IdentityEvent, as hashed
  hash              BLOB    NOT NULL
);
CREATE INDEX identity_events_by_name ON identity_events (name, idx);
CREATE TRIGGER identity_events_append_only_update BEFORE UPDATE ON identity_events
  BEGIN SELECT RAISE(ABORT, 'identity_events are append-only'); END;
CREATE TRIGGER identity_events_append_only_delete BEFORE DELETE ON identity_events
  BEGIN SELECT RAISE(ABORT, 'identity_events are append-only'); END;
)sql"},
};

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

std::string ChangeName(cit::v1::IdentityChange c) {
  std::string name = cit::v1::IdentityChange_Name(c);
  return name.rfind("IDENTITY_CHANGE_", 0) == 0 ? name.substr(16) : name;
}

// The first column that differs from the hashed body, "" if none.
std::string DifferingColumn(const cit::v1::IdentityEvent& e, const sqlite::Statement& q) {
  if (Nanos(e.time()) != q.ColumnInt64(1)) return "time_ns";
  if (static_cast<int64_t>(e.change()) != q.ColumnInt64(2)) return "change";
  if (e.name() != q.ColumnText(3)) {
    return fmt::format("name (column \"{}\", body \"{}\")", q.ColumnText(3), e.name());
  }
  if (e.role() != q.ColumnText(4)) {
    return fmt::format("role (column \"{}\", body \"{}\")", q.ColumnText(4), e.role());
  }
  if (e.token_fingerprint() != q.ColumnText(5)) return "token_fingerprint";
  return "";
}

}  // namespace

absl::Status MigrateIdentityLog(sqlite::Database& db) {
  return sqlite::ApplyMigrations(db, "identities", kIdentityMigrations);
}

std::string IdentityEventName(const cit::v1::IdentityEvent& e) {
  std::string what = ChangeName(e.change());
  if (e.change() == cit::v1::IDENTITY_CHANGE_ROLE_CHANGED) {
    what += fmt::format(" {} -> {}", e.previous_role(), e.role());
  } else {
    what += " " + e.role();
  }
  return fmt::format("identity event {} ({} {})", e.index(), e.name(), what);
}

absl::StatusOr<IdentityChainHead> LoadIdentityChainHead(sqlite::Database& db) {
  absl::StatusOr<sqlite::Statement> q =
      db.Prepare("SELECT idx, hash FROM identity_events ORDER BY idx DESC LIMIT 1");
  if (!q.ok()) return q.status();
  IdentityChainHead head{0, kChainGenesis};
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (*row) {
    head.length = static_cast<uint64_t>(q->ColumnInt64(0));
    head.head = q->ColumnBlob(1);
  }
  return head;
}

absl::StatusOr<IdentityEntry> NextIdentityEntry(const IdentityChainHead& head,
                                                cit::v1::IdentityEvent event) {
  const uint64_t index = head.length + 1;
  event.set_index(index);
  IdentityEntry out;
  out.body = SerializeDeterministic(event);
  absl::StatusOr<std::string> hash =
      ChainStep(head.head, CanonicalEntryBytes(kIdentityDomain, index, 0, out.body));
  if (!hash.ok()) return hash.status();
  out.hash = *std::move(hash);
  out.event = std::move(event);
  return out;
}

absl::Status AppendIdentityEvent(sqlite::Database& db, IdentityChainHead& head,
                                 cit::v1::IdentityEvent event) {
  absl::StatusOr<IdentityEntry> entry = NextIdentityEntry(head, std::move(event));
  if (!entry.ok()) return entry.status();
  const cit::v1::IdentityEvent& e = entry->event;
  absl::StatusOr<sqlite::Statement> ins = db.Prepare(
      "INSERT INTO identity_events (idx, time_ns, change, name, role, token_fingerprint, body, "
      "hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, e.index())
      .Bind(2, Nanos(e.time()))
      .Bind(3, static_cast<int>(e.change()))
      .Bind(4, e.name())
      .Bind(5, e.role())
      .Bind(6, e.token_fingerprint())
      .Bind(7, sqlite::Blob(entry->body))
      .Bind(8, sqlite::Blob(entry->hash));
  if (absl::Status s = ins->Run(); !s.ok()) return s;
  head.length = e.index();
  head.head = std::move(entry->hash);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<cit::v1::IdentityEvent>> ReadIdentityEvents(sqlite::Database& db,
                                                                       uint64_t after_index,
                                                                       size_t limit,
                                                                       const std::string& name) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT body, idx FROM identity_events WHERE idx > ?1 AND (?2 = '' OR name = ?2) "
      "ORDER BY idx LIMIT ?3");
  if (!q.ok()) return q.status();
  q->Bind(1, after_index)
      .Bind(2, name)
      .Bind(3, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<cit::v1::IdentityEvent> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::IdentityEvent e;
    if (!e.ParseFromString(q->ColumnBlob(0))) {
      return absl::DataLossError(absl::StrCat("identity event ", q->ColumnInt64(1),
                                              " does not parse; run `dispatchctl audit verify "
                                              "--identities` to see what was changed"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<ChainReport> VerifyIdentityChain(sqlite::Database& db,
                                                std::vector<ChainAnchor> anchors) {
  ChainWalk walk(kIdentityChainName, std::move(anchors));
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT idx, time_ns, change, name, role, token_fingerprint, body, hash FROM "
      "identity_events ORDER BY idx");
  if (!q.ok()) return q.status();
  std::string head = kChainGenesis;
  uint64_t position = 0;
  std::string prev_name = "the start";
  std::vector<std::string> names;  // of the entries walked, by position
  while (!walk.failed()) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const uint64_t index = static_cast<uint64_t>(q->ColumnInt64(0));
    const uint64_t expected = position + 1;
    const std::string body = q->ColumnBlob(6);
    cit::v1::IdentityEvent e;
    const bool parsed = e.ParseFromString(body);
    const std::string name = parsed ? IdentityEventName(e) : absl::StrCat("identity event ", index);
    if (index != expected) {
      walk.Fail(expected, absl::StrCat("identity event ", expected),
                absl::StrCat("deleted: the identity log jumps from ", prev_name, " to ", name));
      break;
    }
    if (!parsed) {
      walk.Fail(expected, name, "stored body does not parse");
      break;
    }
    if (e.index() != index) {
      walk.Fail(expected, name,
                absl::StrCat("moved: its hashed body says chain position ", e.index(),
                             " (entries reordered)"));
      break;
    }
    if (std::string column = DifferingColumn(e, *q); !column.empty()) {
      walk.Fail(expected, name, absl::StrCat("column ", column, " differs from the hashed body"));
      break;
    }
    absl::StatusOr<std::string> next =
        ChainStep(head, CanonicalEntryBytes(kIdentityDomain, index, 0, body));
    if (!next.ok()) return next.status();
    if (*next != q->ColumnBlob(7)) {
      walk.Fail(expected, name,
                absl::StrCat("hash mismatch at chain position ", expected,
                             ": the entry (name, role, token fingerprint, time or order) was "
                             "changed"));
      break;
    }
    head = *std::move(next);
    position = expected;
    prev_name = name;
    names.push_back(name);
    walk.Step(position, head);
  }
  ChainReport report =
      walk.Finish(position, [&](uint64_t first, uint64_t last, const ChainAnchor&) {
        return absl::StrCat("identity events ", first, "..", last, " (after ", prev_name, ")");
      });
  // A checkpoint mismatch names positions; every identity entry is signed on its own, so the
  // first position is the changed entry: name it as people read it.
  if (!report.intact && report.first_bad.rfind("entr", 0) == 0 && report.first_bad_index >= 1 &&
      report.first_bad_index <= names.size()) {
    report.first_bad = names[report.first_bad_index - 1];
  }
  return report;
}

}  // namespace cit::dispatch
