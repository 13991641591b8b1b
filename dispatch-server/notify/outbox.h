// The durable notification outbox: a notification is a row in the server's database
// (table notifications, component "notify") before any attempt to send it, and is marked
// delivered after the channel confirmed it, so a crash or a kill -9 never loses one; what a
// crash can do is send one again (delivered but not yet marked), which the receiver drops by
// the idempotency key (the row's unique `key`, "<alert>-<step>-<target>").
//
//   absl::StatusOr<std::unique_ptr<Outbox>> box = Outbox::Open(db_path, /*max_pending=*/10000);
//   (*box)->Enqueue({.key = "17-1-duty-mail", .target = "duty-mail", .channel = "email", ...});
//   for (Notification& n : *(*box)->Due(now, 32)) { ... (*box)->MarkDelivered(n.id, now); }
//
// States: pending (waiting for its next attempt at `next_attempt`), delivered, failed (gave up
// after the configured attempts; kept, visible with its last error). Pending rows are bounded:
// Enqueue beyond max_pending returns RESOURCE_EXHAUSTED and stores nothing.
//
// Thread contract: thread-safe (one connection behind a mutex).
#ifndef CIT_DISPATCH_SERVER_NOTIFY_OUTBOX_H_
#define CIT_DISPATCH_SERVER_NOTIFY_OUTBOX_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/store/sqlite_db.h"

namespace cit::dispatch {

struct Notification {
  int64_t id = 0;       // row id (set by the outbox)
  std::string key;      // idempotency key, unique
  std::string target;   // target name
  std::string channel;  // webhook, email, exec
  std::string body;     // JSON (payload.h)
  std::string state = "pending";
  uint32_t attempts = 0;
  std::string last_error;
};

class Outbox {
 public:
  static absl::StatusOr<std::unique_ptr<Outbox>> Open(const std::filesystem::path& db_path,
                                                      size_t max_pending);

  // Stores a pending notification due now. Returns false when one with the same key exists
  // (already stored: nothing changes), RESOURCE_EXHAUSTED when max_pending are waiting.
  absl::StatusOr<bool> Enqueue(const Notification& n, SysTime now);
  // Pending notifications due at `now`, oldest first, at most `max`.
  absl::StatusOr<std::vector<Notification>> Due(SysTime now, size_t max);
  // When the next pending notification is due (nullopt: none pending).
  absl::StatusOr<std::optional<SysTime>> NextDue();
  absl::Status MarkDelivered(int64_t id, SysTime now);
  absl::Status MarkRetry(int64_t id, uint32_t attempts, SysTime next, const std::string& error);
  absl::Status MarkFailed(int64_t id, uint32_t attempts, const std::string& error);
  // Every notification with this state (tests, diagnostics), oldest first.
  absl::StatusOr<std::vector<Notification>> WithState(const std::string& state);
  absl::StatusOr<uint64_t> CountState(const std::string& state);

 private:
  Outbox(std::unique_ptr<sqlite::Database> db, size_t max_pending)
      : db_(std::move(db)), max_pending_(max_pending) {}
  absl::StatusOr<std::vector<Notification>> Select(const std::string& where_sql, SysTime now,
                                                   const std::string& state, size_t max);

  std::mutex mu_;
  std::unique_ptr<sqlite::Database> db_;
  size_t max_pending_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_OUTBOX_H_
