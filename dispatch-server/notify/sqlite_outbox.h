// The outbox (outbox.h) in the instance's own SQLite file (table notifications, component
// "notify"): the SQLite backend, one instance, which alone delivers what it queued.
//
//   absl::StatusOr<std::unique_ptr<SqliteOutbox>> box = SqliteOutbox::Open(db_path, 10000);
//
// Thread contract: thread-safe (one connection behind a mutex).
#ifndef CIT_DISPATCH_SERVER_NOTIFY_SQLITE_OUTBOX_H_
#define CIT_DISPATCH_SERVER_NOTIFY_SQLITE_OUTBOX_H_

#include <filesystem>
#include <memory>
#include <mutex>

#include "dispatch-server/notify/outbox.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

class SqliteOutbox final : public Outbox {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteOutbox>> Open(const std::filesystem::path& db_path,
                                                            size_t max_pending);

  absl::StatusOr<bool> Enqueue(const Notification& n, SysTime now) override;
  absl::StatusOr<std::vector<Notification>> Due(SysTime now, size_t max) override;
  absl::StatusOr<std::optional<Duration>> NextDueIn(SysTime now) override;
  absl::Status MarkDelivered(int64_t id, SysTime now) override;
  absl::Status MarkRetry(int64_t id, uint32_t attempts, SysTime now,
                         std::chrono::milliseconds retry_in, const std::string& error) override;
  absl::Status MarkFailed(int64_t id, uint32_t attempts, const std::string& error) override;
  absl::StatusOr<std::vector<Notification>> WithState(const std::string& state) override;
  absl::StatusOr<uint64_t> CountState(const std::string& state) override;

 private:
  SqliteOutbox(std::unique_ptr<sqlite::Database> db, size_t max_pending)
      : db_(std::move(db)), max_pending_(max_pending) {}
  absl::StatusOr<std::vector<Notification>> Select(const std::string& where_sql, SysTime now,
                                                   const std::string& state, size_t max);

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;
  size_t max_pending_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_SQLITE_OUTBOX_H_
