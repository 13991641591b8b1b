#include "dispatch-server/store/postgres_run_store.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

const std::string kRunsSchemaSql = absl::StrCat(pg::kServerRoleSql, pg::kAppendOnlySql, R"sql(
CREATE TABLE runs (
  run_id     text    NOT NULL,
  version    bigint  NOT NULL,
  vehicle_id text    NOT NULL,
  state      integer NOT NULL,
  proto      bytea   NOT NULL,
  PRIMARY KEY (run_id, version)
);
CREATE INDEX runs_vehicle ON runs (vehicle_id, state);
CREATE TABLE plan_events (
  idx        bigint  PRIMARY KEY CHECK (idx > 0),  -- position in the plan chain
  run_id     text    NOT NULL,
  version    bigint  NOT NULL,
  action     integer NOT NULL,                     -- cit.v1.PlanAction
  actor      text    NOT NULL,
  time_ns    bigint  NOT NULL,
  body       bytea   NOT NULL,                     -- PlanEvent, as hashed
  hash       bytea   NOT NULL
);
CREATE INDEX plan_events_by_run ON plan_events (run_id, idx);
REVOKE ALL ON runs, plan_events FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON runs TO citwatch_server;
GRANT SELECT, INSERT ON plan_events TO citwatch_server;
)sql",
                                                pg::AppendOnlyTriggersSql("plan_events"));

// Every plan-log append locks this row first and reads the chain head in the same
// transaction, so instances sharing the database extend one chain one after the other instead of
// forking it from heads they each kept in memory (issue 15 §3).
constexpr char kPlanLogWriterSql[] = R"sql(
CREATE TABLE plan_log_writer (
  singleton integer PRIMARY KEY CHECK (singleton = 1)
);
INSERT INTO plan_log_writer VALUES (1);
REVOKE ALL ON plan_log_writer FROM PUBLIC;
GRANT SELECT, UPDATE ON plan_log_writer TO citwatch_server;
)sql";

// Released versions are never edited.
const pg::Migration kMigrations[] = {
    {1, "run plan versions and the append-only, hash-chained plan log", kRunsSchemaSql},
    {2, "one plan chain for several instances: the plan-log writer lock", kPlanLogWriterSql},
};

// The plan chain's head as committed by the previous holder of the writer lock (READ COMMITTED
// takes a new snapshot per statement, after the lock is granted).
PlanChainHead LockPlanChainHead(pqxx::work& w) {
  w.exec("SELECT singleton FROM plan_log_writer WHERE singleton = 1 FOR UPDATE");
  pqxx::result r = w.exec("SELECT idx, hash FROM plan_events ORDER BY idx DESC LIMIT 1");
  return r.empty() ? PlanChainHead{0, kChainGenesis}
                   : PlanChainHead{r[0][0].as<uint64_t>(), pg::Bytes(r[0][1])};
}

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

void InsertPlanEvent(pqxx::work& w, const ChainedPlanEvent& c) {
  const cit::v1::PlanEvent& e = c.event;
  w.exec_params(
      "INSERT INTO plan_events (idx, run_id, version, action, actor, time_ns, body, hash) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      static_cast<int64_t>(e.index()), e.run().plan().run_id(),
      static_cast<int64_t>(e.run().version()), static_cast<int>(e.action()), e.actor(),
      Nanos(e.time()), pqxx::binarystring(c.body), pqxx::binarystring(c.hash));
}

}  // namespace

int PostgresRunStore::LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

absl::StatusOr<std::unique_ptr<PostgresRunStore>> PostgresRunStore::Open(
    const std::string& conninfo) {
  absl::StatusOr<std::unique_ptr<pg::Session>> session = pg::Session::Open(conninfo);
  if (!session.ok()) return session.status();
  absl::Status migrated = (*session)->Run("migrating runs", [](pqxx::connection& c) {
    return pg::ApplyMigrations(c, "runs", kMigrations);
  });
  if (!migrated.ok()) return migrated;
  return std::unique_ptr<PostgresRunStore>(new PostgresRunStore(*std::move(session)));
}

absl::Status PostgresRunStore::Save(const cit::v1::Run& run, const cit::v1::PlanEvent& change) {
  return Append(run, change, std::nullopt).status();
}

absl::StatusOr<uint64_t> PostgresRunStore::SaveAt(const cit::v1::Run& run,
                                                  const cit::v1::PlanEvent& change,
                                                  uint64_t expected_position) {
  return Append(run, change, expected_position);
}

absl::StatusOr<uint64_t> PostgresRunStore::Append(const cit::v1::Run& run,
                                                  const cit::v1::PlanEvent& change,
                                                  std::optional<uint64_t> expected) {
  cit::v1::PlanEvent event = change;
  *event.mutable_run() = run;
  return session_->Run(
      "saving run " + run.plan().run_id(), [&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
        pqxx::work w(c);
        const PlanChainHead head = LockPlanChainHead(w);
        // Checked under the writer lock: no other append can come between this check and ours.
        if (expected && head.length != *expected) return PlanLogMovedError(*expected, head.length);
        absl::StatusOr<ChainedPlanEvent> chained = ChainPlanEvent(head, event);
        if (!chained.ok()) return chained.status();  // nothing stored (the transaction aborts)
        w.exec_params(
            "INSERT INTO runs (run_id, version, vehicle_id, state, proto) VALUES ($1, $2, $3, "
            "$4, $5) ON CONFLICT (run_id, version) DO UPDATE SET state = $4, proto = $5",
            run.plan().run_id(), static_cast<int64_t>(run.version()), run.plan().vehicle_id(),
            static_cast<int>(run.state()), pqxx::binarystring(run.SerializeAsString()));
        InsertPlanEvent(w, *chained);
        w.commit();
        return chained->event.index();
      });
}

absl::StatusOr<std::vector<cit::v1::PlanEvent>> PostgresRunStore::History(
    const std::string& run_id) {
  return session_->Run("reading the plan log", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    return pg::ParseRows<cit::v1::PlanEvent>(
        t.exec_params("SELECT body FROM plan_events WHERE run_id = $1 ORDER BY idx", run_id),
        "plan_events");
  });
}

absl::StatusOr<std::vector<cit::v1::Run>> PostgresRunStore::LoadLatest() {
  return session_->Run("loading runs", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    return pg::ParseRows<cit::v1::Run>(
        t.exec("SELECT proto FROM (SELECT DISTINCT ON (run_id) run_id, proto FROM runs ORDER BY "
               "run_id, version DESC) latest ORDER BY run_id COLLATE \"C\""),
        "runs");
  });
}

absl::StatusOr<RunStore::Loaded> PostgresRunStore::LoadWithPosition() {
  return session_->Run("loading runs", [&](pqxx::connection& c) -> absl::StatusOr<Loaded> {
    // One snapshot for both reads: the runs are exactly those as of the log position.
    pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::read_only> t(c);
    pqxx::result head = t.exec("SELECT COALESCE(MAX(idx), 0) FROM plan_events");
    absl::StatusOr<std::vector<cit::v1::Run>> runs = pg::ParseRows<cit::v1::Run>(
        t.exec("SELECT proto FROM (SELECT DISTINCT ON (run_id) run_id, proto FROM runs ORDER BY "
               "run_id, version DESC) latest ORDER BY run_id COLLATE \"C\""),
        "runs");
    if (!runs.ok()) return runs.status();
    return Loaded{*std::move(runs), head[0][0].as<uint64_t>()};
  });
}

absl::StatusOr<std::vector<cit::v1::PlanEvent>> PostgresRunStore::EventsAfter(uint64_t position,
                                                                              std::size_t limit) {
  return session_->Run("following the plan log", [&](pqxx::connection& c) {
    // Appends commit in position order under the writer lock, so no position below a visible
    // one can still appear: reading by position misses nothing.
    pqxx::read_transaction t(c);
    return pg::ParseRows<cit::v1::PlanEvent>(
        t.exec_params("SELECT body FROM plan_events WHERE idx > $1 ORDER BY idx LIMIT $2",
                      static_cast<int64_t>(position), static_cast<int64_t>(limit)),
        "plan_events");
  });
}

absl::StatusOr<std::vector<cit::v1::Run>> PostgresRunStore::Versions(const std::string& run_id) {
  return session_->Run("reading run versions", [&](pqxx::connection& c) {
    pqxx::read_transaction t(c);
    return pg::ParseRows<cit::v1::Run>(
        t.exec_params("SELECT proto FROM runs WHERE run_id = $1 ORDER BY version", run_id), "runs");
  });
}

}  // namespace cit::dispatch
