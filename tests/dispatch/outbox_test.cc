// The notification outbox contract on both backends (outbox.h): one row per idempotency key,
// the max_pending bound, due/retry/delivered/failed with attempts and the last error. On
// PostgreSQL also what sharing needs (postgres_outbox.h): a claimed notification goes to no
// other instance until the claim expires, marks are fenced by the claim, and the table refuses
// changes to what was queued, to final rows and deletions, for the owner and the server's role.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "dispatch-server/notify/postgres_outbox.h"
#include "dispatch-server/notify/sqlite_outbox.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch::test {
namespace {

using std::chrono::milliseconds;

Notification Make(const std::string& key) {
  Notification n;
  n.key = key;
  n.target = "hook";
  n.channel = "webhook";
  n.body = R"({"key":")" + key + R"("})";
  return n;
}

absl::StatusOr<std::unique_ptr<Outbox>> OpenOutbox(const BackendDb& db, size_t max_pending,
                                                   const std::string& instance = "dispatch-a",
                                                   milliseconds claim = milliseconds(60'000),
                                                   const std::string& conninfo = "") {
  if (db.pg()) {
    auto box = PostgresOutbox::Open(conninfo.empty() ? db.conninfo() : conninfo, instance, claim,
                                    max_pending);
    if (!box.ok()) return box.status();
    return std::unique_ptr<Outbox>(std::move(*box));
  }
  auto box = SqliteOutbox::Open(db.path(), max_pending);
  if (!box.ok()) return box.status();
  return std::unique_ptr<Outbox>(std::move(*box));
}

// Everything due now, as one instance takes it (a shared outbox hands out one at a time; the
// SQLite one hands out the same rows until they are marked).
std::vector<Notification> AllDue(Outbox& box) {
  std::vector<Notification> out;
  std::set<int64_t> seen;
  while (true) {
    auto due = box.Due(SystemClock().Now(), 32);
    EXPECT_TRUE(due.ok()) << due.status();
    if (!due.ok() || due->empty()) return out;
    for (Notification& n : *due) {
      if (!seen.insert(n.id).second) return out;
      out.push_back(std::move(n));
    }
  }
}

class OutboxTest : public ::testing::TestWithParam<std::string> {
 protected:
  BackendDb db_{GetParam()};
  SystemClock clock_;
};

TEST_P(OutboxTest, OneRowPerKeyAndPendingRowsAreBounded) {
  auto box = OpenOutbox(db_, 2);
  ASSERT_TRUE(box.ok()) << box.status();
  EXPECT_TRUE((*box)->Enqueue(Make("1-1-hook"), clock_.Now()).value());
  EXPECT_FALSE((*box)->Enqueue(Make("1-1-hook"), clock_.Now()).value()) << "same key: kept once";
  EXPECT_TRUE((*box)->Enqueue(Make("2-1-hook"), clock_.Now()).value());
  absl::StatusOr<bool> full = (*box)->Enqueue(Make("3-1-hook"), clock_.Now());
  EXPECT_TRUE(absl::IsResourceExhausted(full.status())) << full.status();
  EXPECT_NE(full.status().message().find("notify.max_pending"), std::string::npos);
  EXPECT_FALSE((*box)->Enqueue(Make("1-1-hook"), clock_.Now()).value())
      << "a key already stored is no error, full or not";
  EXPECT_EQ((*box)->CountState("pending").value(), 2u);
}

TEST_P(OutboxTest, DueRetryDeliveredAndFailedKeepAttemptsAndTheLastError) {
  auto box = OpenOutbox(db_, 100);
  ASSERT_TRUE(box.ok()) << box.status();
  for (const char* key : {"1-1-hook", "2-1-hook", "3-1-hook"}) {
    ASSERT_TRUE((*box)->Enqueue(Make(key), clock_.Now()).value());
  }
  EXPECT_EQ((*box)->NextDueIn(clock_.Now()).value(), Duration(0));
  std::vector<Notification> due = AllDue(**box);
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].key, "1-1-hook") << "oldest first";
  EXPECT_EQ(due[0].body, R"({"key":"1-1-hook"})");
  ASSERT_TRUE((*box)->MarkDelivered(due[0].id, clock_.Now()).ok());
  ASSERT_TRUE(
      (*box)->MarkRetry(due[1].id, 1, clock_.Now(), milliseconds(3'600'000), "HTTP 503").ok());
  ASSERT_TRUE((*box)->MarkRetry(due[2].id, 1, clock_.Now(), milliseconds(0), "HTTP 502").ok());

  std::vector<Notification> again = AllDue(**box);
  ASSERT_EQ(again.size(), 1u) << "the other one retries in an hour";
  EXPECT_EQ(again[0].key, "3-1-hook");
  EXPECT_EQ(again[0].attempts, 1u);
  EXPECT_EQ(again[0].last_error, "HTTP 502");
  ASSERT_TRUE((*box)->MarkFailed(again[0].id, 2, "HTTP 500").ok());
  std::optional<Duration> next = (*box)->NextDueIn(clock_.Now()).value();
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, std::chrono::minutes(59));

  auto delivered = (*box)->WithState("delivered").value();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].attempts, 1u);
  auto failed = (*box)->WithState("failed").value();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].attempts, 2u);
  EXPECT_EQ(failed[0].last_error, "HTTP 500");
  auto pending = (*box)->WithState("pending").value();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].last_error, "HTTP 503");
  EXPECT_EQ((*box)->CountState("pending").value(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxTest, ::testing::Values("sqlite", "postgresql"),
                         BackendName);

// Two instances on one database: a claimed notification is the claimer's alone until the claim
// expires; then another instance takes it (same row, same key), and the first one's late mark is
// refused rather than overwriting the new claim.
TEST(PostgresOutboxTest, AClaimIsExclusiveUntilItExpiresAndMarksAreFencedByIt) {
  BackendDb db("postgresql");
  auto a = OpenOutbox(db, 100, "dispatch-a", milliseconds(300));
  auto b = OpenOutbox(db, 100, "dispatch-b", milliseconds(60'000));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  ASSERT_TRUE((*a)->Enqueue(Make("7-1-hook"), SystemClock().Now()).value());
  EXPECT_FALSE((*b)->Enqueue(Make("7-1-hook"), SystemClock().Now()).value())
      << "one outbox for both: B's reconcile does not queue it again";
  std::vector<Notification> claimed = AllDue(**a);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_TRUE(AllDue(**b).empty()) << "claimed by A";
  std::optional<Duration> wait = (*b)->NextDueIn(SystemClock().Now()).value();
  ASSERT_TRUE(wait.has_value());
  EXPECT_LE(*wait, milliseconds(300)) << "due for B when A's claim expires";

  std::vector<Notification> taken;
  ASSERT_TRUE(cit::test::WaitFor([&] {
    taken = AllDue(**b);
    return !taken.empty();
  })) << "A's claim expired: B takes the notification";
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].id, claimed[0].id);
  EXPECT_EQ(taken[0].key, "7-1-hook");
  absl::Status late = (*a)->MarkDelivered(claimed[0].id, SystemClock().Now());
  EXPECT_TRUE(absl::IsFailedPrecondition(late)) << late;
  EXPECT_TRUE((*a)->MarkRetry(claimed[0].id, 1, SystemClock().Now(), milliseconds(0), "x").code() ==
              absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*b)->MarkDelivered(taken[0].id, SystemClock().Now()).ok());
  EXPECT_EQ((*a)->CountState("delivered").value(), 1u);
  EXPECT_TRUE(absl::IsFailedPrecondition((*b)->MarkFailed(taken[0].id, 1, "late")))
      << "a delivered notification is final";
}

// Two live instances taking from one outbox at the same time never get the same row.
TEST(PostgresOutboxTest, ConcurrentClaimsNeverHandOneRowToTwoInstances) {
  BackendDb db("postgresql");
  auto a = OpenOutbox(db, 1000, "dispatch-a");
  auto b = OpenOutbox(db, 1000, "dispatch-b");
  ASSERT_TRUE(a.ok() && b.ok());
  constexpr int kRows = 200;
  for (int i = 0; i < kRows; ++i) {
    ASSERT_TRUE((*a)->Enqueue(Make(std::to_string(i) + "-1-hook"), SystemClock().Now()).value());
  }
  std::vector<Notification> got_a, got_b;
  std::thread ta([&] { got_a = AllDue(**a); });
  std::thread tb([&] { got_b = AllDue(**b); });
  ta.join();
  tb.join();
  std::set<int64_t> ids;
  for (const auto& n : got_a) ids.insert(n.id);
  for (const auto& n : got_b) ids.insert(n.id);
  EXPECT_EQ(got_a.size() + got_b.size(), static_cast<size_t>(kRows)) << "each row claimed once";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));
}

// What was queued, and what is final, stays as it was: refused for the owner (triggers) and for
// the server's role (privileges too), which still queues, claims and marks.
TEST(PostgresOutboxTest, QueuedContentFinalRowsAndDeletionsAreRefused) {
  BackendDb db("postgresql");
  auto owner = OpenOutbox(db, 100);
  ASSERT_TRUE(owner.ok()) << "the owner migrates: " << owner.status();
  const std::string conninfo = db.ServerRoleConninfo();
  auto box = OpenOutbox(db, 100, "dispatch-a", milliseconds(60'000), conninfo);
  ASSERT_TRUE(box.ok()) << box.status();
  ASSERT_TRUE((*box)->Enqueue(Make("1-1-hook"), SystemClock().Now()).value());
  ASSERT_TRUE((*box)->Enqueue(Make("2-1-hook"), SystemClock().Now()).value());
  std::vector<Notification> due = AllDue(**box);
  ASSERT_EQ(due.size(), 2u);
  ASSERT_TRUE((*box)->MarkDelivered(due[0].id, SystemClock().Now()).ok());
  ASSERT_TRUE((*box)->MarkRetry(due[1].id, 1, SystemClock().Now(), milliseconds(0), "503").ok());

  const std::string delivered_id = std::to_string(due[0].id);
  for (const std::string& sql :
       {std::string("UPDATE notifications SET body = 'forged'"),
        std::string("UPDATE notifications SET key = 'other' WHERE id = ") + delivered_id,
        "UPDATE notifications SET state = 'pending' WHERE id = " + delivered_id,
        std::string("UPDATE notifications SET attempts = 0"),
        std::string("DELETE FROM notifications"), std::string("TRUNCATE notifications")}) {
    EXPECT_FALSE(db.Exec(sql).ok()) << "the owner: " << sql;
  }
  BackendDb::ExpectRefusedAs(
      conninfo,
      {"UPDATE notifications SET body = 'forged'", "DELETE FROM notifications",
       "TRUNCATE notifications", "ALTER TABLE notifications DISABLE TRIGGER notifications_guard"});
  EXPECT_EQ((*owner)->CountState("delivered").value(), 1u);
  EXPECT_EQ((*owner)->CountState("pending").value(), 1u);
  EXPECT_EQ((*owner)->WithState("delivered").value()[0].body, R"({"key":"1-1-hook"})");
}

}  // namespace
}  // namespace cit::dispatch::test
