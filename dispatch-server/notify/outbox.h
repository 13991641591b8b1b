// The durable notification outbox: a notification is stored before any attempt to send it and
// marked delivered after the channel confirmed it, so a crash or a kill -9 never loses one; what
// a crash can do is send one again (delivered but not yet marked), which the receiver drops by
// the idempotency key (the row's unique `key`, "<alert>-<step>-<target>").
//
// Two implementations, chosen by the store backend (notifier.h):
//   SqliteOutbox (sqlite_outbox.h)     in the instance's own SQLite file, one deliverer;
//   PostgresOutbox (postgres_outbox.h) in the shared PostgreSQL database: every instance
//     delivers, each notification claimed by one of them at a time (a lease on the database
//     clock), so one queued by an instance that died is delivered by a survivor.
//
//   std::unique_ptr<Outbox> box = ...;
//   box->Enqueue({.key = "17-1-duty-mail", .target = "duty-mail", .channel = "email", ...}, now);
//   for (Notification& n : *box->Due(now, 32)) { ... box->MarkDelivered(n.id, now); }
//
// States: pending (waiting for its next attempt), delivered, failed (gave up after the
// configured attempts; kept, visible with its last error). Pending rows are bounded: Enqueue
// beyond max_pending returns RESOURCE_EXHAUSTED and stores nothing.
//
// Thread contract: implementations are thread-safe.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_OUTBOX_H_
#define CIT_DISPATCH_SERVER_NOTIFY_OUTBOX_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatch-server/common/clock.h"

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
  virtual ~Outbox() = default;

  // Stores a pending notification due now. Returns false when one with the same key exists
  // (already stored: nothing changes), RESOURCE_EXHAUSTED when max_pending are waiting.
  virtual absl::StatusOr<bool> Enqueue(const Notification& n, SysTime now) = 0;
  // Pending notifications due at `now`, oldest first, at most `max`, for this instance to
  // attempt: each is then marked with one of the Mark calls below. A shared outbox claims them
  // (no other instance gets them until the claim expires) and may return fewer than `max`.
  virtual absl::StatusOr<std::vector<Notification>> Due(SysTime now, size_t max) = 0;
  // How long from `now` until the next pending notification is due (zero: due now; nullopt:
  // none pending).
  virtual absl::StatusOr<std::optional<Duration>> NextDueIn(SysTime now) = 0;
  virtual absl::Status MarkDelivered(int64_t id, SysTime now) = 0;
  // Pending again, due `retry_in` after `now`.
  virtual absl::Status MarkRetry(int64_t id, uint32_t attempts, SysTime now,
                                 std::chrono::milliseconds retry_in, const std::string& error) = 0;
  virtual absl::Status MarkFailed(int64_t id, uint32_t attempts, const std::string& error) = 0;
  // Every notification with this state (tests, diagnostics), oldest first.
  virtual absl::StatusOr<std::vector<Notification>> WithState(const std::string& state) = 0;
  virtual absl::StatusOr<uint64_t> CountState(const std::string& state) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_OUTBOX_H_
