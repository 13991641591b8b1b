// SQLite backend of AlertStore: alerts and their event log in the server's database file
// (component "alerts" in schema_migrations).
//
//   absl::StatusOr<std::unique_ptr<SqliteAlertStore>> store = SqliteAlertStore::Open(db_path);
//   AlertManager alerts(store->get(), &clock);
//
// Schema: alerts (alert_id PRIMARY KEY, vehicle_id, run_id, kind, state, severity, proto BLOB:
// the latest state) and alert_events (event_id PRIMARY KEY, alert_id, proto BLOB: the alert as
// of that event, chained: alert_event_chain.h; UPDATE/DELETE refused by triggers). Each Append is
// one transaction, so an event id once visible is never reused.
//
// Thread contract: thread-safe (one connection behind a mutex).
#ifndef CIT_DISPATCH_STORE_SQLITE_ALERT_STORE_H_
#define CIT_DISPATCH_STORE_SQLITE_ALERT_STORE_H_

#include <filesystem>
#include <memory>
#include <mutex>

#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/store/alert_event_chain.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class SqliteAlertStore final : public AlertStore {
 public:
  // kFull by default: events are written by the AlertManager's persister thread in groups, off
  // the fix-to-alert path, so the fsync costs no alert latency.
  static absl::StatusOr<std::unique_ptr<SqliteAlertStore>> Open(
      const std::filesystem::path& path, sqlite::Durability durability = sqlite::Durability::kFull);

  using AlertStore::Append;
  // One instance per SQLite file: nothing is fenced, `fenced` stays untouched.
  absl::Status Append(std::span<const cit::v1::AlertEvent> events,
                      std::vector<FencedEvent>* fenced) override;
  absl::StatusOr<IdBlocks> ReserveIds(uint64_t alert_ids, uint64_t event_ids) override;
  absl::StatusOr<Snapshot> Load(size_t recent_events) override;
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsAfter(uint64_t after_event_id,
                                                               size_t limit) override;
  absl::StatusOr<std::vector<LoggedEvent>> EventsAfterPosition(uint64_t after_position,
                                                               size_t limit) override;
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsOfAlerts(
      std::span<const uint64_t> alert_ids) override;

 private:
  explicit SqliteAlertStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  absl::Status PrepareStatements();
  // mu_ held, in a transaction; advances `head` (published after COMMIT).
  absl::Status AppendOne(const cit::v1::AlertEvent& event, AlertChainHead& head);

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;
  sqlite::Statement upsert_alert_;
  sqlite::Statement insert_event_;
  sqlite::Statement events_after_;
  AlertChainHead head_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_SQLITE_ALERT_STORE_H_
