// The record store on both backends (issue 15): every StoreTest case runs against SqliteStore on
// a real database file in a temp dir and against PostgresStore on a fresh database of a private
// PostgreSQL server (tests/support/postgres_server.h). Backend-specific cases follow them.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "dispatch-server/store/postgres_db.h"
#include "dispatch-server/store/postgres_store.h"
#include "dispatch-server/store/record_hash.h"
#include "dispatch-server/store/sqlite_db.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/dispatch/stored_fix.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

using Clock = std::chrono::system_clock;

using test_records::Fix;

struct OpenOptions {
  size_t reject_samples_per_reason = 20;
  // SQLite only: synchronous=NORMAL where the case commits thousands of times.
  bool fast = false;
};

// One backend under test: opens (and reopens) a store on the same database, and reaches the
// database around the store the way an administrator or an attacker with access would.
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (pg()) {
      server_ = test::SharedPostgres();
      ASSERT_NE(server_, nullptr);
      absl::StatusOr<std::string> db = server_->CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      conninfo_ = *db;
      database_ = conninfo_.substr(conninfo_.find("dbname=") + 7);
      database_ = database_.substr(0, database_.find(' '));
    }
  }

  bool pg() const { return GetParam() == "postgresql"; }

  absl::StatusOr<std::unique_ptr<Store>> TryOpen(const OpenOptions& o = {}) {
    if (pg()) {
      PostgresStoreOptions po;
      po.connection = conninfo_;
      po.reject_samples_per_reason = o.reject_samples_per_reason;
      auto s = PostgresStore::Open(po);
      if (!s.ok()) return s.status();
      return std::unique_ptr<Store>(std::move(*s));
    }
    SqliteStoreOptions so;
    so.reject_samples_per_reason = o.reject_samples_per_reason;
    if (o.fast) so.durability = sqlite::Durability::kNormal;
    auto s = SqliteStore::Open(dir_ / "dispatch.db", so);
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }

  std::unique_ptr<Store> Open(const OpenOptions& o = {}) {
    auto s = TryOpen(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static uint64_t WatermarkWork(Store& s) {
    if (auto* p = dynamic_cast<PostgresStore*>(&s)) return p->WatermarkWork();
    return dynamic_cast<SqliteStore&>(s).WatermarkWork();
  }

  // SQL run on the database beside the store (as the superuser on PostgreSQL).
  absl::Status Exec(const std::string& sql) {
    if (pg()) return server_->Exec(database_, sql);
    auto db = sqlite::Database::Open(dir_ / "dispatch.db");
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }

  int64_t Scalar(const std::string& sql) {
    if (pg()) {
      pqxx::connection c(conninfo_);
      pqxx::read_transaction t(c);
      return t.exec1(sql)[0].as<int64_t>();
    }
    auto conn = sqlite::Database::Open(dir_ / "dispatch.db", {});
    EXPECT_TRUE(conn.ok());
    auto q = (*conn)->Prepare(sql);
    EXPECT_TRUE(q.ok()) << q.status();
    EXPECT_TRUE(*q->Step());
    return q->ColumnInt64(0);
  }

  // Rewrites a stored record's server time after switching its append-only trigger off.
  absl::Status TamperServerTime(uint64_t seq) {
    const std::string update =
        "UPDATE records SET server_time_ns = server_time_ns + 1 WHERE seq = " + std::to_string(seq);
    if (pg()) {
      return Exec("ALTER TABLE records DISABLE TRIGGER records_append_only; " + update);
    }
    if (absl::Status s = Exec("DROP TRIGGER records_append_only_update"); !s.ok()) return s;
    return Exec(update);
  }

  test::TempDir dir_;
  test::PostgresServer* server_ = nullptr;
  std::string conninfo_;
  std::string database_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(StoreTest, AppendedRecordsReadBackInSeqOrderAndChainVerifies) {
  auto store = Open();
  AppendBatch batch;
  for (uint64_t s = 1; s <= 5; ++s) batch.records.push_back(Fix("CIT-1", s));
  ASSERT_TRUE(store->Append(batch).ok());
  EXPECT_EQ(batch.records[4].chain_index, 5u);
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 5u);
  auto recs = store->ReadBySeq("CIT-1", 2, 4);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 3u);
  EXPECT_EQ((*recs)[0].record.seq(), 2u);
  EXPECT_DOUBLE_EQ((*recs)[2].record.fix().lat_deg(), 47.004);
  auto v = store->VerifyChain("CIT-1");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->detail;
  EXPECT_EQ(v->records_checked, 5u);
  auto last = store->ReadBySeq("CIT-1", 5, 5);
  ASSERT_TRUE(last.ok() && last->size() == 1u);
  EXPECT_EQ(v->head, (*last)[0].hash) << "the head is the last record's hash";
  EXPECT_TRUE(store->VerifyChain("CIT-none")->head.empty());
}

TEST_P(StoreTest, WatermarkWaitsForGapAndStateSurvivesReopen) {
  {
    auto store = Open();
    AppendBatch batch;
    batch.records.push_back(Fix("CIT-1", 1));
    batch.records.push_back(Fix("CIT-1", 3));  // 2 still missing
    ASSERT_TRUE(store->Append(batch).ok());
    EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 1u);
  }
  auto store = Open();
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 1u);
  auto states = store->LoadVehicleStates();
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].handled_above, std::vector<uint64_t>{3});
  AppendBatch fill;
  RejectedRecord rej;
  rej.vehicle_id = "CIT-1";
  rej.seq = 2;
  rej.reason = cit::v1::REJECT_REASON_NON_FINITE;
  rej.detail = "lat NaN";
  fill.rejects.push_back(rej);
  ASSERT_TRUE(store->Append(fill).ok());
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 3u) << "a logged reject fills the gap";
  auto rejects = store->ReadRejects("CIT-1");
  ASSERT_TRUE(rejects.ok());
  ASSERT_EQ(rejects->size(), 1u);
  EXPECT_EQ((*rejects)[0].reason, cit::v1::REJECT_REASON_NON_FINITE);
  EXPECT_TRUE(store->VerifyChain("CIT-1")->ok);
}

TEST_P(StoreTest, DuplicateSeqFailsWholeBatchAndStoresNothing) {
  auto store = Open();
  AppendBatch first;
  first.records.push_back(Fix("CIT-1", 1));
  ASSERT_TRUE(store->Append(first).ok());
  AppendBatch dup;
  dup.records.push_back(Fix("CIT-1", 2));
  dup.records.push_back(Fix("CIT-1", 1));
  EXPECT_EQ(store->Append(dup).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*store->CountRecords("CIT-1"), 1u);
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 1u);
  AppendBatch next;
  next.records.push_back(Fix("CIT-1", 2));
  ASSERT_TRUE(store->Append(next).ok());
  EXPECT_TRUE(store->VerifyChain("CIT-1")->ok);
}

TEST_P(StoreTest, DeclaredGapMovesWatermark) {
  auto store = Open();
  AppendBatch batch;
  batch.gaps.push_back({"CIT-1", 1, 10, Clock::now()});
  batch.records.push_back(Fix("CIT-1", 11));
  ASSERT_TRUE(store->Append(batch).ok());
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 11u);
}

TEST_P(StoreTest, CommitWorkDoesNotGrowBehindAMissingSeqAndTheFillMovesTheWatermark) {
  // Seq 1 never arrives while 20,000 later records do: every commit used to copy the vehicle's
  // whole above-watermark set (70-86 ms per commit after 200,000 records).
  auto opened = TryOpen({.fast = true});
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;
  constexpr uint64_t kBatch = 100, kBatches = 200;
  std::vector<uint64_t> work_per_commit;
  for (uint64_t b = 0; b < kBatches; ++b) {
    AppendBatch batch;
    for (uint64_t i = 0; i < kBatch; ++i) batch.records.push_back(Fix("CIT-1", 2 + b * kBatch + i));
    // Another vehicle commits beside it: its work must not depend on CIT-1's backlog either.
    batch.records.push_back(Fix("CIT-2", b + 1));
    const uint64_t before = WatermarkWork(store);
    ASSERT_TRUE(store.Append(batch).ok());
    work_per_commit.push_back(WatermarkWork(store) - before);
  }
  EXPECT_EQ(*store.HighestContiguousSeq("CIT-1"), 0u);
  EXPECT_EQ(*store.HighestContiguousSeq("CIT-2"), kBatches);
  // Per commit: the batch's own seqs, a constant number of steps each, whatever waits above 1.
  for (size_t b = 0; b < work_per_commit.size(); ++b) {
    ASSERT_LE(work_per_commit[b], 4 * (kBatch + 1)) << "commit " << b;
  }
  EXPECT_EQ(work_per_commit.back(), work_per_commit[1]) << "no growth with the backlog";

  // Exactly once: a seq behind the gap is refused again, and the fill moves the watermark.
  AppendBatch dup;
  dup.records.push_back(Fix("CIT-1", 5000));
  EXPECT_EQ(store.Append(dup).code(), absl::StatusCode::kAlreadyExists);
  AppendBatch fill;
  fill.records.push_back(Fix("CIT-1", 1));
  ASSERT_TRUE(store.Append(fill).ok());
  const uint64_t last = 1 + kBatch * kBatches;
  EXPECT_EQ(*store.HighestContiguousSeq("CIT-1"), last);
  EXPECT_EQ(*store.CountRecords("CIT-1"), last);
  auto chain = store.VerifyChain("CIT-1");
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->ok) << chain->detail;
  auto states = store.LoadVehicleStates();
  ASSERT_TRUE(states.ok());
  EXPECT_TRUE((*states)[0].handled_above.empty()) << "nothing left above the watermark";
  opened->reset();
  auto reopened = TryOpen({.fast = true});
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*(*reopened)->HighestContiguousSeq("CIT-1"), last);
  AppendBatch next;
  next.records.push_back(Fix("CIT-1", last + 1));
  ASSERT_TRUE((*reopened)->Append(next).ok());
  EXPECT_EQ(*(*reopened)->HighestContiguousSeq("CIT-1"), last + 1);
}

TEST_P(StoreTest, GapsAndOutOfOrderSeqsJoinTheWatermarkInAnyOrder) {
  auto store = Open();
  AppendBatch a;  // 6 and 9 ahead; gap 3-5 declared ahead of 1-2
  a.records.push_back(Fix("CIT-1", 6));
  a.records.push_back(Fix("CIT-1", 9));
  a.gaps.push_back({"CIT-1", 3, 5, Clock::now()});
  ASSERT_TRUE(store->Append(a).ok());
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 0u);
  AppendBatch b;
  b.records.push_back(Fix("CIT-1", 2));
  b.gaps.push_back({"CIT-1", 7, 8, Clock::now()});
  ASSERT_TRUE(store->Append(b).ok());
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 0u);
  AppendBatch c;
  c.records.push_back(Fix("CIT-1", 1));
  ASSERT_TRUE(store->Append(c).ok());
  EXPECT_EQ(*store->HighestContiguousSeq("CIT-1"), 9u);
  EXPECT_TRUE((*store->LoadVehicleStates())[0].handled_above.empty());
}

RejectedRecord Reject(const std::string& vehicle, uint64_t seq, cit::v1::RejectReason reason) {
  RejectedRecord r;
  r.vehicle_id = vehicle;
  r.seq = seq;
  r.reason = reason;
  r.detail = "lat_deg 200 outside [-90, 90]";
  r.raw = std::string(1000, 'r');  // what made the rejects table grow ~3 MB/s
  r.server_received_time = Clock::time_point(std::chrono::seconds(1'800'000'000 + seq));
  return r;
}

TEST_P(StoreTest, RejectFloodKeepsABoundedSampleOfRawBytes) {
  auto store = TryOpen({.fast = true});
  ASSERT_TRUE(store.ok());
  // 10,000 refused records from one vehicle (two reasons), 100 per group commit.
  uint64_t seq = 1;
  for (int commit = 0; commit < 100; ++commit) {
    AppendBatch batch;
    for (int i = 0; i < 100; ++i, ++seq) {
      batch.rejects.push_back(Reject(
          "CIT-1", seq,
          seq % 2 == 0 ? cit::v1::REJECT_REASON_OUT_OF_RANGE : cit::v1::REJECT_REASON_NON_FINITE));
    }
    ASSERT_TRUE((*store)->Append(batch).ok());
  }
  EXPECT_EQ(*(*store)->HighestContiguousSeq("CIT-1"), 10'000u) << "every reject is handled";
  EXPECT_LE(Scalar("SELECT COUNT(*) FROM rejects"), 2 * 20);
  EXPECT_LE(Scalar("SELECT COALESCE(SUM(LENGTH(raw)), 0) FROM rejects"), 2 * 20 * 1000);
  auto kept = (*store)->ReadRejects("CIT-1");
  ASSERT_TRUE(kept.ok());
  ASSERT_FALSE(kept->empty());
  EXPECT_EQ(kept->back().seq, 10'000u) << "the newest rejects are the ones kept";
  EXPECT_EQ(kept->back().raw.size(), 1000u);
}

TEST_P(StoreTest, RejectCountsAreExactAndRejectsAboveAGapSurviveARestart) {
  const OpenOptions options{.reject_samples_per_reason = 3, .fast = true};
  {
    auto store = TryOpen(options);
    ASSERT_TRUE(store.ok());
    // Seq 1 is missing: the rejects 2..501 wait above the watermark, and are what tells a
    // restarted server that those seqs are handled.
    AppendBatch batch;
    for (uint64_t s = 2; s <= 501; ++s) {
      batch.rejects.push_back(Reject("CIT-1", s, cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE));
    }
    batch.rejects.push_back(Reject("CIT-2", 0, cit::v1::REJECT_REASON_BAD_SEQ));
    ASSERT_TRUE((*store)->Append(batch).ok());
    EXPECT_EQ(*(*store)->HighestContiguousSeq("CIT-1"), 0u);
  }
  auto store = TryOpen(options);
  ASSERT_TRUE(store.ok());
  AppendBatch fill;
  fill.records.push_back(Fix("CIT-1", 1));
  fill.rejects.push_back(Reject("CIT-1", 502, cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE));
  ASSERT_TRUE((*store)->Append(fill).ok());
  EXPECT_EQ(*(*store)->HighestContiguousSeq("CIT-1"), 502u) << "rejects rebuilt the watermark";
  // The watermark passed them: only the sample is left, and the counts are exact.
  auto kept = (*store)->ReadRejects("CIT-1");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 3u);
  EXPECT_EQ(kept->back().seq, 502u);
  auto counts = (*store)->ReadRejectCounts("CIT-1");
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].reason, cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  EXPECT_EQ((*counts)[0].count, 501u);
  EXPECT_EQ((*counts)[0].first_time, Clock::time_point(std::chrono::seconds(1'800'000'002)));
  EXPECT_EQ((*counts)[0].last_time, Clock::time_point(std::chrono::seconds(1'800'000'502)));
  auto other = (*store)->ReadRejectCounts("CIT-2");
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].count, 1u);
}

TEST_P(StoreTest, RecordsCannotBeUpdatedOrDeleted) {
  auto store = Open();
  AppendBatch batch;
  batch.records.push_back(Fix("CIT-1", 1));
  ASSERT_TRUE(store->Append(batch).ok());
  EXPECT_FALSE(Exec("UPDATE records SET lat_deg = 0").ok());
  EXPECT_FALSE(Exec("DELETE FROM records").ok());
  EXPECT_EQ(*store->CountRecords("CIT-1"), 1u);
}

TEST_P(StoreTest, TamperedBodyIsFoundAtItsSeq) {
  auto store = Open();
  AppendBatch batch;
  for (uint64_t s = 1; s <= 4; ++s) batch.records.push_back(Fix("CIT-1", s));
  ASSERT_TRUE(store->Append(batch).ok());
  // An attacker with file access drops the trigger and rewrites seq 3's timestamp.
  ASSERT_TRUE(TamperServerTime(3).ok());
  auto v = store->VerifyChain("CIT-1");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->ok);
  ASSERT_TRUE(v->first_bad_seq.has_value());
  EXPECT_EQ(*v->first_bad_seq, 3u);
}

TEST_P(StoreTest, ReadByEventTimeIsHalfOpen) {
  auto store = Open();
  AppendBatch batch;
  for (uint64_t s = 1; s <= 10; ++s) batch.records.push_back(Fix("CIT-1", s));
  ASSERT_TRUE(store->Append(batch).ok());
  auto from = Clock::time_point(std::chrono::seconds(1'800'000'003));
  auto to = Clock::time_point(std::chrono::seconds(1'800'000'006));
  auto recs = store->ReadByEventTime("CIT-1", from, to);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 3u);
  EXPECT_EQ((*recs)[0].record.seq(), 3u);
  EXPECT_EQ((*recs)[2].record.seq(), 5u);
}

TEST_P(StoreTest, PagesWalkTiesAtOneTimeInSeqOrderAndStopAtTheChainLength) {
  auto store = Open();
  AppendBatch batch;
  // Seqs 1..9; seqs 3..7 share one event time (a burst of events), across page boundaries.
  for (uint64_t s = 1; s <= 9; ++s) {
    CommittedRecord r = Fix("CIT-1", s);
    if (s >= 3 && s <= 7) r.record.mutable_event_time()->set_seconds(1'800'000'003);
    batch.records.push_back(r);
  }
  ASSERT_TRUE(store->Append(batch).ok());
  ASSERT_EQ(*store->ChainLength("CIT-1"), 9u);
  EXPECT_EQ(*store->ChainLength("CIT-none"), 0u);
  AppendBatch later;
  later.records.push_back(Fix("CIT-1", 10));
  later.records.back().record.mutable_event_time()->set_seconds(1'800'000'003);  // a late tie
  ASSERT_TRUE(store->Append(later).ok());

  RecordPageQuery q;
  q.vehicle_id = "CIT-1";
  q.from = Clock::time_point(std::chrono::seconds(1'800'000'002));
  q.max_chain_index = 9;  // pinned before seq 10 was stored
  q.limit = 2;
  std::vector<uint64_t> seqs;
  for (int pages = 0; pages < 20; ++pages) {
    auto page = store->ReadPage(q);
    ASSERT_TRUE(page.ok()) << page.status();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 2u);
    for (const auto& r : *page) seqs.push_back(r.record.seq());
    const auto& last = page->back().record;
    q.after = RecordKey{last.event_time().seconds() * 1'000'000'000, last.seq()};
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 3, 4, 5, 6, 7, 8, 9}));
}

// The run report reads in one pass (ScanPage: one statement on SQLite, pages on PostgreSQL):
// exactly ReadPage's records, order, hashes and times, also with ties, a pinned chain length and
// a cursor.
TEST_P(StoreTest, ScanVisitsWhatPagesReturnInTheSameOrder) {
  auto store = Open();
  AppendBatch batch;
  for (uint64_t s = 1; s <= 2500; ++s) {
    CommittedRecord r = Fix("CIT-1", s);
    if (s % 7 == 0) r.record.mutable_event_time()->set_seconds(1'800'000'000 + s - 3);  // ties
    batch.records.push_back(r);
    batch.records.push_back(Fix("CIT-2", s));
  }
  ASSERT_TRUE(store->Append(batch).ok());
  AppendBatch later;
  later.records.push_back(Fix("CIT-1", 2501));
  ASSERT_TRUE(store->Append(later).ok());

  RecordPageQuery q;
  q.vehicle_id = "CIT-1";
  q.from = Clock::time_point(std::chrono::seconds(1'800'000'010));
  q.to = Clock::time_point(std::chrono::seconds(1'800'002'400));
  q.max_chain_index = 2500;  // pinned before seq 2501
  q.limit = SIZE_MAX;
  std::vector<StoredRecord> paged;
  RecordPageQuery p = q;
  p.limit = 300;
  while (true) {
    auto page = store->ReadPage(p);
    ASSERT_TRUE(page.ok()) << page.status();
    for (auto& r : *page) paged.push_back(std::move(r));
    if (page->size() < p.limit) break;
    const auto& last = paged.back().record;
    p.after = RecordKey{last.event_time().seconds() * 1'000'000'000 + last.event_time().nanos(),
                        last.seq()};
  }
  ASSERT_GT(paged.size(), 2000u);
  std::size_t i = 0;
  auto visited = store->ScanPage(q, [&](const RecordView& v) {
    ASSERT_LT(i, paged.size());
    const StoredRecord& want = paged[i++];
    EXPECT_EQ(v.seq, want.record.seq());
    EXPECT_EQ(v.record->seq(), want.record.seq());
    EXPECT_EQ(v.record->event_time().seconds(), want.record.event_time().seconds());
    EXPECT_EQ(v.record->fix().lat_deg(), want.record.fix().lat_deg());
    EXPECT_EQ(v.chain_index, want.chain_index);
    EXPECT_EQ(v.hash, want.hash);
    EXPECT_EQ(v.server_time_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    want.server_received_time.time_since_epoch())
                                    .count());
  });
  ASSERT_TRUE(visited.ok()) << visited.status();
  EXPECT_EQ(*visited, paged.size());
  EXPECT_EQ(i, paged.size());

  // A limit and a cursor as ReadPage has them.
  q.limit = 5;
  q.after =
      RecordKey{paged[9].record.event_time().seconds() * 1'000'000'000, paged[9].record.seq()};
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(store->ScanPage(q, [&](const RecordView& v) { seqs.push_back(v.seq); }).ok());
  ASSERT_EQ(seqs.size(), 5u);
  for (std::size_t k = 0; k < 5; ++k) EXPECT_EQ(seqs[k], paged[10 + k].record.seq());
}

TEST(SqliteMigrationsTest, AppliedOncePerComponentAndVersion) {
  test::TempDir dir;
  auto db = sqlite::Database::Open(dir / "x.db");
  ASSERT_TRUE(db.ok());
  const sqlite::Migration v1[] = {{1, "t", "CREATE TABLE t (a INTEGER)"}};
  const sqlite::Migration v2[] = {{1, "t", "CREATE TABLE t (a INTEGER)"},
                                  {2, "t.b", "ALTER TABLE t ADD COLUMN b TEXT"}};
  ASSERT_TRUE(sqlite::ApplyMigrations(**db, "demo", v1).ok());
  ASSERT_TRUE(sqlite::ApplyMigrations(**db, "demo", v1).ok()) << "re-applying is a no-op";
  ASSERT_TRUE(sqlite::ApplyMigrations(**db, "demo", v2).ok());
  EXPECT_EQ(*sqlite::SchemaVersion(**db, "demo"), 2);
  EXPECT_EQ(*sqlite::SchemaVersion(**db, "other"), 0);
  EXPECT_FALSE(sqlite::ApplyMigrations(**db, "demo", v1).ok()) << "database is newer than binary";
  auto ins = (*db)->Prepare("INSERT INTO t (a, b) VALUES (?1, ?2)");
  ASSERT_TRUE(ins.ok());
  ins->Bind(1, 7).Bind(2, "seven");
  ASSERT_TRUE(ins->Run().ok());
  auto q = (*db)->Prepare("SELECT a, b FROM t");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnInt64(0), 7);
  EXPECT_EQ(q->ColumnText(1), "seven");
}

TEST(SqliteTransactionTest, RollsBackUnlessCommitted) {
  test::TempDir dir;
  auto db = sqlite::Database::Open(dir / "x.db");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t (a INTEGER)").ok());
  {
    sqlite::Transaction tx(**db);
    ASSERT_TRUE(tx.status().ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES (1)").ok());
  }
  {
    sqlite::Transaction tx(**db);
    ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES (2)").ok());
    ASSERT_TRUE(tx.Commit().ok());
  }
  auto q = (*db)->Prepare("SELECT group_concat(a) FROM t");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnText(0), "2");
}

TEST(RecordHashTest, ChainStepIsSha256OfPrevAndCanonical) {
  // SHA-256 of 32 zero bytes followed by "abc", computed independently (Python hashlib).
  std::string h = *ChainStep(kChainGenesis, "abc");
  EXPECT_EQ(HexHash(h), "365aa7d8f7f9402c4b9434502b4cc89ddb09fe50d7cd95b493b834c62d5a5370");
  EXPECT_NE(h, *ChainStep(kChainGenesis, "abd"));
  EXPECT_EQ(h, *ChainStep(kChainGenesis, "abc"));
}

TEST(RecordHashTest, RecordChainStepIsTheChainStepOfTheCanonicalBytes) {
  const std::string body = std::string("\x08\x01\x12\x03", 4) + "abc";
  std::string out = "left over from an earlier record, longer than a hash";
  ASSERT_TRUE(
      RecordChainStep(kChainGenesis, "CIT-0042", 7, 1'700'000'000'123'456'789, body, &out).ok());
  const std::string expected = *ChainStep(
      kChainGenesis, CanonicalRecordBytes("CIT-0042", 7, 1'700'000'000'123'456'789, body));
  EXPECT_EQ(HexHash(out), HexHash(expected));
  // The next step reads its previous hash from the string it writes (the commit thread's head).
  const std::string next = *ChainStep(out, CanonicalRecordBytes("CIT-0042", 8, 5, ""));
  ASSERT_TRUE(RecordChainStep(out, "CIT-0042", 8, 5, "", &out).ok());
  EXPECT_EQ(HexHash(out), HexHash(next));
  FailChainStepsForTesting(true);
  EXPECT_EQ(RecordChainStep(out, "CIT-0042", 9, 5, "", &out).code(), absl::StatusCode::kInternal);
  FailChainStepsForTesting(false);
  EXPECT_EQ(HexHash(out), HexHash(next)) << "a failed step leaves the head as it was";
}

TEST_P(StoreTest, ABodyMadeByTheIngestIsStoredAndHashedAsTheStoreWouldMakeIt) {
  // The ingest serialises on the stream's thread (CommittedRecord::body); a record without a
  // body is serialised by the store. Both must give the same stored bytes and chain.
  auto with_body = Open();
  AppendBatch made;
  for (uint64_t s = 1; s <= 3; ++s) {
    CommittedRecord r = Fix("CIT-1", s);
    r.server_received_time = std::chrono::system_clock::time_point(std::chrono::seconds(s));
    r.body = SerializeRecordBody(r.record);
    made.records.push_back(r);
  }
  ASSERT_TRUE(with_body->Append(made).ok());
  AppendBatch plain = made;
  for (CommittedRecord& r : plain.records) {
    r.vehicle_id = "CIT-2";
    r.body.clear();
  }
  ASSERT_TRUE(with_body->Append(plain).ok());
  auto v1 = with_body->VerifyChain("CIT-1");
  auto v2 = with_body->VerifyChain("CIT-2");
  ASSERT_TRUE(v1.ok() && v2.ok());
  EXPECT_TRUE(v1->ok) << v1->detail;
  EXPECT_TRUE(v2->ok) << v2->detail;
  auto a = with_body->ReadBySeq("CIT-1", 1, 3);
  auto b = with_body->ReadBySeq("CIT-2", 1, 3);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 3u);
  ASSERT_EQ(b->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(SerializeRecordBody((*a)[i].record), SerializeRecordBody((*b)[i].record));
  }
}

TEST_P(StoreTest, FailedHashFailsTheAppendAndStoresNothing) {
  // Issue 12 §6: an OpenSSL failure must fail the commit, never store a placeholder hash.
  auto store = TryOpen();
  ASSERT_TRUE(store.ok()) << store.status();
  AppendBatch batch;
  cit::v1::Record r;
  r.set_seq(1);
  r.mutable_event_time()->set_seconds(1'700'000'000);
  batch.records.push_back(CommittedRecord{"CIT-0001", r, std::chrono::system_clock::now()});
  FailChainStepsForTesting(true);
  absl::Status s = (*store)->Append(batch);
  FailChainStepsForTesting(false);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  auto n = (*store)->CountRecords("CIT-0001");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(*(*store)->HighestContiguousSeq("CIT-0001"), 0u);
  // The same batch goes in once hashing works again.
  ASSERT_TRUE((*store)->Append(batch).ok());
  EXPECT_EQ(*(*store)->CountRecords("CIT-0001"), 1u);
}

// ---- PostgreSQL only ---------------------------------------------------------------------

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = test::SharedPostgres();
    ASSERT_NE(server_, nullptr);
    auto db = server_->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    database_ = db->substr(db->find("dbname=") + 7);
    database_ = database_.substr(0, database_.find(' '));
  }
  absl::StatusOr<std::unique_ptr<PostgresStore>> OpenAs(const std::string& user) {
    PostgresStoreOptions o;
    o.connection = server_->Conninfo(database_, user);
    return PostgresStore::Open(o);
  }
  // A login role in citwatch_server, as docs/operations.md tells the administrator to create.
  std::string ServerRole() {
    const std::string role = database_ + "_dispatch";
    EXPECT_TRUE(
        server_->Exec(database_, "CREATE ROLE " + role + " LOGIN IN ROLE citwatch_server").ok());
    return role;
  }
  test::PostgresServer* server_ = nullptr;
  std::string database_;
};

TEST_F(PostgresStoreTest, ServerRoleAppendsAndReadsButCannotChangeHistoryEvenWithoutTriggers) {
  ASSERT_TRUE(OpenAs("postgres").ok()) << "the owner migrates";
  const std::string role = ServerRole();
  auto store = OpenAs(role);
  ASSERT_TRUE(store.ok()) << store.status();
  AppendBatch batch;
  for (uint64_t s = 1; s <= 3; ++s) batch.records.push_back(Fix("CIT-1", s));
  batch.gaps.push_back({"CIT-1", 4, 5, Clock::now()});
  RejectedRecord rej;
  rej.vehicle_id = "CIT-1";
  rej.seq = 6;
  rej.reason = cit::v1::REJECT_REASON_NON_FINITE;
  batch.rejects.push_back(rej);
  ASSERT_TRUE((*store)->Append(batch).ok());
  EXPECT_EQ(*(*store)->HighestContiguousSeq("CIT-1"), 6u);
  EXPECT_TRUE((*store)->VerifyChain("CIT-1")->ok);

  pqxx::connection c(server_->Conninfo(database_, role));
  for (const char* sql :
       {"UPDATE records SET lat_deg = 0", "DELETE FROM records", "TRUNCATE records",
        "UPDATE seq_gaps SET last_seq = 9", "DELETE FROM seq_gaps",
        "ALTER TABLE records DISABLE TRIGGER records_append_only",
        "SET session_replication_role = replica"}) {
    pqxx::nontransaction t(c);
    EXPECT_THROW(t.exec(sql), pqxx::sql_error) << sql;
  }
  EXPECT_EQ(*(*store)->CountRecords("CIT-1"), 3u);
}

TEST_F(PostgresStoreTest, TheOwnerIsStoppedByTheTriggers) {
  auto store = OpenAs("postgres");
  ASSERT_TRUE(store.ok()) << store.status();
  AppendBatch batch;
  batch.records.push_back(Fix("CIT-1", 1));
  batch.gaps.push_back({"CIT-1", 2, 3, Clock::now()});
  RejectedRecord rej;  // row triggers fire only on rows: give every table one
  rej.vehicle_id = "CIT-1";
  rej.seq = 4;
  rej.reason = cit::v1::REJECT_REASON_NON_FINITE;
  batch.rejects.push_back(rej);
  ASSERT_TRUE((*store)->Append(batch).ok());
  for (const char* sql :
       {"UPDATE records SET lat_deg = 0", "DELETE FROM records", "TRUNCATE records",
        "DELETE FROM seq_gaps", "UPDATE rejects SET seq = 1"}) {
    absl::Status s = server_->Exec(database_, sql);
    EXPECT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.message().find("append-only"), std::string_view::npos) << s;
  }
}

TEST_F(PostgresStoreTest, MigrationsAreVersionedAndANewerSchemaIsRefused) {
  ASSERT_TRUE(OpenAs("postgres").ok());
  ASSERT_TRUE(OpenAs("postgres").ok()) << "reopening applies nothing twice";
  pqxx::connection c(server_->Conninfo(database_));
  {
    pqxx::read_transaction t(c);
    EXPECT_EQ(
        t.exec1("SELECT COUNT(*) FROM schema_migrations WHERE component = 'records'")[0].as<int>(),
        PostgresStore::LatestSchemaVersion());
  }
  ASSERT_TRUE(server_
                  ->Exec(database_,
                         "INSERT INTO schema_migrations (component, version, description) "
                         "VALUES ('records', 99, 'from a newer server')")
                  .ok());
  auto store = OpenAs("postgres");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_NE(store.status().message().find("version 99"), std::string_view::npos);
}

TEST_F(PostgresStoreTest, TheServerRoleCannotMigrateAndSaysWhoCan) {
  auto role = [&] {
    // The group role exists once any database was migrated; make sure it does here.
    EXPECT_TRUE(OpenAs("postgres").ok());
    return ServerRole();
  }();
  ASSERT_TRUE(server_->CreateDatabase().ok());
  auto fresh = server_->CreateDatabase();
  ASSERT_TRUE(fresh.ok());
  PostgresStoreOptions o;
  o.connection = *fresh;
  o.connection.replace(o.connection.find("user=postgres"), 13, "user=" + role);
  auto store = PostgresStore::Open(o);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_NE(store.status().message().find("owner"), std::string_view::npos) << store.status();
}

TEST_F(PostgresStoreTest, UnreachableServerNamesHostAndPortAndWhatToCheck) {
  PostgresStoreOptions o;
  const int port = test::FreeTcpPort();
  o.connection = "host=127.0.0.1 port=" + std::to_string(port) + " dbname=citwatch user=dispatch";
  auto store = PostgresStore::Open(o);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  const std::string msg(store.status().message());
  EXPECT_NE(msg.find("host 127.0.0.1 port " + std::to_string(port)), std::string::npos) << msg;
  EXPECT_NE(msg.find("pg_hba.conf"), std::string::npos) << msg;
}

TEST_F(PostgresStoreTest, AStoreReconnectsAfterTheServerEndedItsConnections) {
  auto store = OpenAs("postgres");
  ASSERT_TRUE(store.ok()) << store.status();
  AppendBatch a;
  a.records.push_back(Fix("CIT-1", 1));
  ASSERT_TRUE((*store)->Append(a).ok());
  // An administrator (or a failover) ends every session of this database.
  ASSERT_TRUE(server_
                  ->Exec("postgres",
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                         "datname = '" +
                             database_ + "'")
                  .ok());
  AppendBatch b;
  b.records.push_back(Fix("CIT-1", 2));
  absl::Status first = (*store)->Append(b);
  if (!first.ok()) {
    EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
    ASSERT_TRUE((*store)->Append(b).ok()) << "the next commit reconnects";
  }
  EXPECT_EQ(*(*store)->HighestContiguousSeq("CIT-1"), 2u);
  auto chain = (*store)->VerifyChain("CIT-1");
  if (!chain.ok()) chain = (*store)->VerifyChain("CIT-1");  // the pooled reader reconnects
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(chain->ok) << chain->detail;
  EXPECT_EQ(chain->records_checked, 2u);
}

}  // namespace
}  // namespace cit::dispatch
