// PostgreSQL backend of RunStore (issue 15): every version of every run and the append-only,
// hash-chained plan log (plan_version_chain.h: the same chain, hashes and bodies as SQLite) in
// the PostgreSQL database, component "runs" in schema_migrations.
//
//   absl::StatusOr<std::unique_ptr<PostgresRunStore>> runs = PostgresRunStore::Open(conninfo);
//   RunManager manager(runs->get(), &clock);
//
// Schema: runs (run_id, version, vehicle_id, state, proto; PRIMARY KEY run_id, version), the
// current-state index, and plan_events, the log: UPDATE, DELETE and TRUNCATE refused by trigger,
// and the group role citwatch_server granted only SELECT and INSERT on it.
//
// Thread contract: thread-safe (one connection behind a mutex, pg::Session). Several instances
// may write one database: each append locks the plan_log_writer row and extends the chain from
// the head it reads under that lock (migration 2), so they write one chain. SaveAt appends only
// on top of the position the caller names, and EventsAfter reads the log by position, so each
// instance's RunManager follows the others' changes (RunManager::StartFollowing).
#ifndef CIT_DISPATCH_STORE_POSTGRES_RUN_STORE_H_
#define CIT_DISPATCH_STORE_POSTGRES_RUN_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dispatch-server/plans/run_store.h"
#include "dispatch-server/store/plan_version_chain.h"
#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

class PostgresRunStore final : public RunStore {
 public:
  // Connects and applies pending migrations (UNAVAILABLE names the server when unreachable).
  static absl::StatusOr<std::unique_ptr<PostgresRunStore>> Open(const std::string& conninfo);

  absl::Status Save(const cit::v1::Run& run, const cit::v1::PlanEvent& change) override;
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> History(const std::string& run_id) override;
  absl::StatusOr<std::vector<cit::v1::Run>> LoadLatest() override;
  absl::StatusOr<std::vector<cit::v1::Run>> Versions(const std::string& run_id) override;
  absl::StatusOr<Loaded> LoadWithPosition() override;
  absl::StatusOr<uint64_t> SaveAt(const cit::v1::Run& run, const cit::v1::PlanEvent& change,
                                  uint64_t expected_position) override;
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> EventsAfter(uint64_t position,
                                                              std::size_t limit) override;

  // Highest schema version of component "runs" this binary knows.
  static int LatestSchemaVersion();

 private:
  explicit PostgresRunStore(std::unique_ptr<pg::Session> session) : session_(std::move(session)) {}

  // Appends under the writer lock; with `expected`, only if the log's head is there.
  absl::StatusOr<uint64_t> Append(const cit::v1::Run& run, const cit::v1::PlanEvent& change,
                                  std::optional<uint64_t> expected);

  std::unique_ptr<pg::Session> session_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_POSTGRES_RUN_STORE_H_
