// SQLite backend of RunStore: every version of every run plan in the server's database file
// (component "runs" in schema_migrations), and the hash-chained plan log (plan_version_chain.h)
// written in the same transaction as each change.
//
//   absl::StatusOr<std::unique_ptr<SqliteRunStore>> runs = SqliteRunStore::Open(db_path);
//   RunManager manager(runs->get(), &clock);
//
// Schema: runs (run_id, version, vehicle_id, state, proto BLOB; PRIMARY KEY run_id, version):
// the current-state index; plan_events: the append-only log. A database from before the log
// gets one entry per stored version at the first start (actor "system", action UNSPECIFIED,
// comment saying so): what happened before is not provable.
//
// Thread contract: thread-safe (one connection behind a mutex).
#ifndef CIT_DISPATCH_SERVER_STORE_SQLITE_RUN_STORE_H_
#define CIT_DISPATCH_SERVER_STORE_SQLITE_RUN_STORE_H_

#include <filesystem>
#include <memory>
#include <mutex>

#include "dispatch-server/plans/run_store.h"
#include "dispatch-server/store/plan_version_chain.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class SqliteRunStore final : public RunStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteRunStore>> Open(const std::filesystem::path& path);

  absl::Status Save(const cit::v1::Run& run, const cit::v1::PlanEvent& change) override;
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> History(const std::string& run_id) override;
  absl::StatusOr<std::vector<cit::v1::Run>> LoadLatest() override;
  absl::StatusOr<std::vector<cit::v1::Run>> Versions(const std::string& run_id) override;

 private:
  explicit SqliteRunStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  absl::StatusOr<std::vector<cit::v1::Run>> Query(sqlite::Statement& stmt);
  // Logs the stored versions that have no plan-log entry (a database from before the log).
  absl::Status SealUnlogged();

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;
  PlanChainHead head_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_STORE_SQLITE_RUN_STORE_H_
