// ScanRecordsInKeyOrder on a real SQLite store: the primary-key walk it uses where seq order is
// event-time order gives exactly the rows, in exactly the order, of the event-time index query
// (Store::ReadPage), for records in order, records out of order (a late backlog), records of
// other times interleaved, a chain limit set before later commits, cursors and limits; and it
// falls back to the index for the chunks where the orders differ.
#include "dispatch-server/store/sqlite_record_scan.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "dispatch-server/store/sqlite_store.h"
#include "tests/dispatch/scan_workload.h"
#include "tests/dispatch/stored_fix.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using scan_workload::At;
using scan_workload::FixAt;
using scan_workload::kBase;
using scan_workload::kVehicle;
using scan_workload::Whole;

class SqliteRecordScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_ / "dispatch.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto db = sqlite::Database::Open(dir_ / "dispatch.db", {.read_only = true});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    // Another vehicle's records around this one's in the primary key.
    Append({Other("CIT-6", 1), Other("CIT-8", 1)});
  }

  static CommittedRecord Other(const std::string& vehicle, uint64_t seq) {
    return test_records::Fix(vehicle, seq);
  }

  void Append(std::vector<CommittedRecord> records) {
    AppendBatch batch;
    batch.records = std::move(records);
    ASSERT_TRUE(store_->Append(batch).ok());
  }

  // Seq `first`.. with event times `first_second`, +1 s each.
  void AppendInOrder(uint64_t first, uint64_t count, int64_t first_second) {
    std::vector<CommittedRecord> batch;
    for (uint64_t i = 0; i < count; ++i) {
      batch.push_back(FixAt(first + i, first_second + static_cast<int64_t>(i)));
    }
    Append(std::move(batch));
  }

  // The reference: Store::ReadPage pages (the event-time index query), as seqs.
  std::vector<uint64_t> Reference(RecordPageQuery q) {
    std::vector<uint64_t> seqs;
    const size_t limit = q.limit;
    while (seqs.size() < limit) {
      q.limit = std::min<size_t>(500, limit - seqs.size());
      auto page = store_->ReadPage(q);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const StoredRecord& r : *page) seqs.push_back(r.record.seq());
      if (page->size() < q.limit) break;
      const cit::v1::Record& last = page->back().record;
      q.after = RecordKey{last.event_time().seconds() * 1'000'000'000 + last.event_time().nanos(),
                          last.seq()};
    }
    return seqs;
  }

  std::vector<uint64_t> Scan(const RecordPageQuery& q) {
    std::vector<uint64_t> seqs;
    absl::StatusOr<size_t> n = ScanRecordsInKeyOrder(
        *db_, q,
        [&](const RecordView& v) {
          EXPECT_EQ(v.seq, v.record->seq());
          EXPECT_EQ(v.hash.size(), 32u);
          seqs.push_back(v.seq);
        },
        &stats_);
    EXPECT_TRUE(n.ok()) << n.status();
    if (n.ok()) {
      EXPECT_EQ(*n, seqs.size());
    }
    return seqs;
  }

  cit::test::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<sqlite::Database> db_;
  RecordScanStats stats_;
};

TEST_F(SqliteRecordScanTest, RecordsInOrderAreWalkedInKeyOrderWithTheIndexQuerysRows) {
  AppendInOrder(1, 5000, kBase);
  RecordPageQuery q = Whole();
  q.from = At(kBase + 100);
  q.to = At(kBase + 4321);
  const std::vector<uint64_t> want = Reference(q);
  ASSERT_EQ(want.size(), 4221u);
  EXPECT_EQ(Scan(q), want);
  EXPECT_EQ(stats_.chunks_by_index, 0u);
  EXPECT_EQ(stats_.chunks_in_seq_order, 3u);  // 2048 + 2048 + 125
}

TEST_F(SqliteRecordScanTest, ALateBacklogIsReadThroughTheIndexOnlyWhereItLands) {
  AppendInOrder(1, 3000, kBase + 600);      // live records first
  AppendInOrder(3001, 600, kBase);          // then the backlog from before them
  AppendInOrder(3601, 3000, kBase + 3600);  // and live again
  const std::vector<uint64_t> want = Reference(Whole());
  ASSERT_EQ(want.size(), 6600u);
  ASSERT_EQ(want.front(), 3001u);  // event-time order: the backlog first
  EXPECT_EQ(Scan(Whole()), want);
  EXPECT_GT(stats_.chunks_by_index, 0u);
  EXPECT_GT(stats_.chunks_in_seq_order, 0u);
}

TEST_F(SqliteRecordScanTest, RecordsOfOtherTimesBetweenTheRangesRowsAreSkipped) {
  // Every other record belongs to another day: the span walk skips them (or, where they are
  // too many, the index is used); the rows are the same either way.
  std::vector<CommittedRecord> batch;
  for (uint64_t seq = 1; seq <= 8000; ++seq) {
    const bool in_range = seq <= 4096 ? seq % 2 == 1 : seq % 10 == 5;
    batch.push_back(FixAt(seq, (in_range ? kBase : kBase + 86'400) + static_cast<int64_t>(seq)));
  }
  Append(std::move(batch));
  RecordPageQuery q = Whole();
  q.to = At(kBase + 10'000);
  const std::vector<uint64_t> want = Reference(q);
  ASSERT_EQ(want.size(), 2048u + 390u);
  EXPECT_EQ(Scan(q), want);
  EXPECT_GT(stats_.chunks_in_seq_order, 0u);
  EXPECT_GT(stats_.chunks_by_index, 0u);  // 1 in 10 past seq 4096: too sparse to walk
}

TEST_F(SqliteRecordScanTest, AChainLimitExcludesLaterCommitsAndStillFillsTheLimit) {
  AppendInOrder(1, 3000, kBase);
  // Committed after the scan's chain limit, inside its time range and its seq span.
  std::vector<CommittedRecord> later;
  for (uint64_t seq = 3001; seq <= 3500; ++seq) later.push_back(FixAt(seq, kBase + 1000));
  Append(std::move(later));
  AppendInOrder(3501, 100, kBase + 5000);
  RecordPageQuery q = Whole();
  q.max_chain_index = 3000;
  q.limit = 2500;
  const std::vector<uint64_t> want = Reference(q);
  ASSERT_EQ(want.size(), 2500u);
  EXPECT_EQ(Scan(q), want);
}

TEST_F(SqliteRecordScanTest, RandomStoresAndQueriesGiveTheIndexQuerysRows) {
  std::mt19937_64 rng(20261207);
  const scan_workload::History history = scan_workload::AppendRandomHistory(
      rng, [&](std::vector<CommittedRecord> batch) { Append(std::move(batch)); });
  for (int trial = 0; trial < 200; ++trial) {
    const RecordPageQuery q = scan_workload::RandomQuery(rng, history);
    ASSERT_EQ(Scan(q), Reference(q)) << "trial " << trial;
  }
  EXPECT_GT(stats_.chunks_in_seq_order, 0u);
  EXPECT_GT(stats_.chunks_by_index, 0u);
}

}  // namespace
}  // namespace cit::dispatch
