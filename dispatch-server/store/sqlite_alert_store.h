// SQLite backend of AlertStore: alerts and their event log in the server's database file
// (component "alerts" in schema_migrations).
//
//   absl::StatusOr<std::unique_ptr<SqliteAlertStore>> store = SqliteAlertStore::Open(db_path);
//   AlertManager alerts(store->get(), &clock);
//
// Schema: alerts (alert_id PRIMARY KEY, vehicle_id, run_id, kind, state, severity, proto BLOB:
// the latest state) and alert_events (event_id PRIMARY KEY, alert_id, proto BLOB: the alert as
// of that event). Each Append is one transaction, so an event id once visible is never reused.
//
// Thread contract: thread-safe (one connection behind a mutex).
#ifndef CIT_DISPATCH_STORE_SQLITE_ALERT_STORE_H_
#define CIT_DISPATCH_STORE_SQLITE_ALERT_STORE_H_

#include <filesystem>
#include <memory>
#include <mutex>

#include "dispatch-server/alerts/alert_store.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class SqliteAlertStore final : public AlertStore {
 public:
  // kNormal by default: an alert event costs no fsync on the fix-to-alert path; the records it
  // was derived from are stored with full durability by the record store.
  static absl::StatusOr<std::unique_ptr<SqliteAlertStore>> Open(
      const std::filesystem::path& path,
      sqlite::Durability durability = sqlite::Durability::kNormal);

  absl::Status Append(const cit::v1::AlertEvent& event) override;
  absl::StatusOr<Snapshot> Load(size_t recent_events) override;
  absl::StatusOr<std::vector<cit::v1::AlertEvent>> EventsAfter(uint64_t after_event_id,
                                                               size_t limit) override;

 private:
  explicit SqliteAlertStore(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  absl::Status PrepareStatements();

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;
  sqlite::Statement upsert_alert_;
  sqlite::Statement insert_event_;
  sqlite::Statement events_after_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_SQLITE_ALERT_STORE_H_
