#include "dispatch-server/store/sqlite_run_store.h"

#include <spdlog/spdlog.h>

namespace cit::dispatch {
namespace {

constexpr sqlite::Migration kRunMigrations[] = {
    {1, "run plan versions",
     R"sql(
CREATE TABLE runs (
  run_id     TEXT NOT NULL,
  version    INTEGER NOT NULL,
  vehicle_id TEXT NOT NULL,
  state      INTEGER NOT NULL,
  proto      BLOB NOT NULL,
  PRIMARY KEY (run_id, version)
);
CREATE INDEX runs_vehicle ON runs (vehicle_id, state);
)sql"},
    {2, "plan log: append-only, hash-chained plan events", kPlanEventsSchemaSql},
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteRunStore>> SqliteRunStore::Open(
    const std::filesystem::path& path) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path);
  if (!db.ok()) return db.status();
  if (absl::Status s = sqlite::ApplyMigrations(**db, "runs", kRunMigrations); !s.ok()) return s;
  std::unique_ptr<SqliteRunStore> store(new SqliteRunStore(std::move(*db)));
  absl::StatusOr<PlanChainHead> head = LoadPlanChainHead(*store->db_);
  if (!head.ok()) return head.status();
  store->head_ = *std::move(head);
  if (absl::Status s = store->SealUnlogged(); !s.ok()) return s;
  return store;
}

absl::Status SqliteRunStore::SealUnlogged() {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT proto FROM runs r WHERE NOT EXISTS (SELECT 1 FROM plan_events p WHERE "
      "p.run_id = r.run_id AND p.version = r.version) ORDER BY run_id, version");
  if (!q.ok()) return q.status();
  absl::StatusOr<std::vector<cit::v1::Run>> unlogged = Query(*q);
  if (!unlogged.ok()) return unlogged.status();
  if (unlogged->empty()) return absl::OkStatus();
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  PlanChainHead head = head_;
  for (const cit::v1::Run& run : *unlogged) {
    cit::v1::PlanEvent e;
    e.set_action(cit::v1::PLAN_ACTION_UNSPECIFIED);
    e.set_actor("system");
    e.set_comment("logged when the plan log was introduced; earlier changes are not provable");
    *e.mutable_time() = run.created_time();
    *e.mutable_run() = run;
    if (absl::Status s = AppendPlanEvent(*db_, head, std::move(e)); !s.ok()) return s;
  }
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  head_ = head;
  spdlog::warn("event=plan_log_sealed_at_upgrade versions={}", unlogged->size());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<cit::v1::PlanEvent>> SqliteRunStore::History(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return ReadPlanHistory(*db_, run_id);
}

absl::Status SqliteRunStore::Save(const cit::v1::Run& run, const cit::v1::PlanEvent& change) {
  std::lock_guard<std::mutex> lock(mu_);
  sqlite::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  auto stmt = db_->Prepare(
      "INSERT INTO runs (run_id, version, vehicle_id, state, proto) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT (run_id, version) DO UPDATE SET state = ?4, proto = ?5");
  if (!stmt.ok()) return stmt.status();
  const std::string bytes = run.SerializeAsString();
  stmt->Bind(1, run.plan().run_id())
      .Bind(2, run.version())
      .Bind(3, run.plan().vehicle_id())
      .Bind(4, static_cast<int>(run.state()))
      .Bind(5, sqlite::Blob(bytes));
  if (absl::Status s = stmt->Run(); !s.ok()) return s;
  cit::v1::PlanEvent event = change;
  *event.mutable_run() = run;
  PlanChainHead head = head_;
  if (absl::Status s = AppendPlanEvent(*db_, head, std::move(event)); !s.ok()) return s;
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  head_ = std::move(head);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<cit::v1::Run>> SqliteRunStore::Query(sqlite::Statement& stmt) {
  std::vector<cit::v1::Run> out;
  while (true) {
    absl::StatusOr<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::Run run;
    if (!run.ParseFromString(stmt.ColumnBlob(0))) {
      return absl::DataLossError("runs: unparsable stored run");
    }
    out.push_back(std::move(run));
  }
  return out;
}

absl::StatusOr<std::vector<cit::v1::Run>> SqliteRunStore::LoadLatest() {
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare(
      "SELECT r.proto FROM runs r JOIN (SELECT run_id, MAX(version) AS v FROM runs GROUP BY "
      "run_id) m ON r.run_id = m.run_id AND r.version = m.v ORDER BY r.run_id");
  if (!stmt.ok()) return stmt.status();
  return Query(*stmt);
}

absl::StatusOr<std::vector<cit::v1::Run>> SqliteRunStore::Versions(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto stmt = db_->Prepare("SELECT proto FROM runs WHERE run_id = ?1 ORDER BY version");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, run_id);
  return Query(*stmt);
}

}  // namespace cit::dispatch
