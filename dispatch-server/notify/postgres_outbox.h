// The outbox (outbox.h) in the PostgreSQL database the instances share (table notifications,
// migration component "outbox"): every instance queues into it and every instance delivers from
// it. Due() claims one notification at a time for this instance (claimed_by, claim_until on the
// database clock, so the instances' clocks need not agree) with FOR UPDATE SKIP LOCKED: while
// the claim holds, no other instance gets the row, so instances that are alive never attempt
// one notification at once. An instance that dies (kill -9) holding a claim simply stops; the
// row is due again for any instance once the claim expires, and is sent with the same key.
// Retry times are on the database clock too.
//
// Marks are fenced by the claim: only the claiming instance marks a pending row (a mark that
// finds its claim taken over is refused with FAILED_PRECONDITION; the receiver may then see the
// notification twice, with one idempotency key: at-least-once, as on SQLite).
//
// What the database refuses (triggers, owner included; the server's role also lacks the
// privileges): DELETE and TRUNCATE; an UPDATE of what was queued (id, key, target, channel,
// body, queued_by, created_at); any UPDATE of a delivered or failed row (final states); attempts
// going down. Only the delivery state of a pending row changes: state, attempts, next_attempt,
// last_error, the claim and who delivered it when.
//
//   auto box = PostgresOutbox::Open(conninfo, "dispatch-a", std::chrono::seconds(15), 10000);
//
// Thread contract: thread-safe (one connection behind a mutex, pg::Session).
#ifndef CIT_DISPATCH_SERVER_NOTIFY_POSTGRES_OUTBOX_H_
#define CIT_DISPATCH_SERVER_NOTIFY_POSTGRES_OUTBOX_H_

#include <chrono>
#include <memory>
#include <string>

#include "dispatch-server/notify/outbox.h"
#include "dispatch-server/store/postgres_db.h"

namespace cit::dispatch {

class PostgresOutbox final : public Outbox {
 public:
  // Migrates (component "outbox"). `instance`: this instance's name, unique among those
  // sharing the database; `claim`: how long a claimed notification is this instance's alone
  // (longer than one attempt: the channel's timeout).
  static absl::StatusOr<std::unique_ptr<PostgresOutbox>> Open(const std::string& conninfo,
                                                              std::string instance,
                                                              std::chrono::milliseconds claim,
                                                              size_t max_pending);

  absl::StatusOr<bool> Enqueue(const Notification& n, SysTime now) override;
  // Claims at most one notification (whatever `max`): the others stay free for the other
  // instances while this one attempts it.
  absl::StatusOr<std::vector<Notification>> Due(SysTime now, size_t max) override;
  // Counts rows claimed by another instance as due when that claim expires.
  absl::StatusOr<std::optional<Duration>> NextDueIn(SysTime now) override;
  absl::Status MarkDelivered(int64_t id, SysTime now) override;
  absl::Status MarkRetry(int64_t id, uint32_t attempts, SysTime now,
                         std::chrono::milliseconds retry_in, const std::string& error) override;
  absl::Status MarkFailed(int64_t id, uint32_t attempts, const std::string& error) override;
  absl::StatusOr<std::vector<Notification>> WithState(const std::string& state) override;
  absl::StatusOr<uint64_t> CountState(const std::string& state) override;

 private:
  PostgresOutbox(std::unique_ptr<pg::Session> session, std::string instance,
                 std::chrono::milliseconds claim, size_t max_pending)
      : session_(std::move(session)),
        instance_(std::move(instance)),
        claim_(claim),
        max_pending_(max_pending) {}
  std::unique_ptr<pg::Session> session_;
  const std::string instance_;
  const std::chrono::milliseconds claim_;
  const size_t max_pending_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_POSTGRES_OUTBOX_H_
