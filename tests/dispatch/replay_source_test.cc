// The ReplaySource and SnapshotStore contract on both backends (SqliteReplayReader +
// SqliteSnapshotStore, PostgresReplayReader + PostgresSnapshotStore): what the monitor's restart
// rebuild reads (monitor/state_rebuild.h), over records stored by the backend's own Store.
#include <gtest/gtest.h>

#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

using Clock = std::chrono::system_clock;
using test::BackendDb;

constexpr int64_t kT0 = 1'800'000'000;

Clock::time_point At(int64_t s) { return Clock::time_point(std::chrono::seconds(s)); }

// Record `seq` of `vehicle`: event time kT0 + seq s, received 100 s + arrival later.
CommittedRecord Fix(const std::string& vehicle, uint64_t seq, int64_t arrival) {
  CommittedRecord r;
  r.vehicle_id = vehicle;
  r.record.set_seq(seq);
  r.record.mutable_event_time()->set_seconds(kT0 + static_cast<int64_t>(seq));
  r.record.mutable_fix()->set_lat_deg(47.0 + 0.001 * static_cast<double>(seq));
  r.record.mutable_fix()->set_lon_deg(8.5);
  r.server_received_time = At(kT0 + 100 + arrival);
  return r;
}

struct Seen {
  uint64_t chain_index;
  uint64_t seq;
  int64_t received_s;
};

class ReplaySourceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto store = db_.OpenRecordStore();
    ASSERT_TRUE(store.ok()) << store.status();
    // Seq 4 jumped the agent's queue behind 5: chain order 1, 2, 3, 5, 4.
    int64_t arrival = 0;
    for (uint64_t seq : {1, 2, 3, 5, 4}) {
      AppendBatch batch;
      batch.records.push_back(Fix("CIT-1", seq, arrival++));
      ASSERT_TRUE((*store)->Append(batch).ok());
    }
    AppendBatch other;
    other.records.push_back(Fix("CIT-2", 1, 0));
    other.records.back().record.mutable_event_time()->set_seconds(kT0 - 3600);
    ASSERT_TRUE((*store)->Append(other).ok());
    auto snapshots = db_.OpenSnapshotStore();  // creates the table, as the server does
    ASSERT_TRUE(snapshots.ok()) << snapshots.status();
    snapshots_ = std::move(*snapshots);
    auto source = db_.OpenReplaySource();
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = std::move(*source);
  }

  std::function<void(const StoredForReplay&)> Collect(std::vector<Seen>& out) {
    return [&out](const StoredForReplay& r) {
      cit::v1::Record rec;
      EXPECT_TRUE(rec.ParseFromString(std::string(r.body)));
      out.push_back({r.chain_index, rec.seq(),
                     std::chrono::duration_cast<std::chrono::seconds>(
                         r.server_received_time.time_since_epoch())
                             .count() -
                         kT0 - 100});
    };
  }

  BackendDb db_{GetParam()};
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<ReplaySource> source_;
};

INSTANTIATE_TEST_SUITE_P(Backends, ReplaySourceTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

TEST_P(ReplaySourceTest, ForEachReadsFromTheEventTimeInChainOrderWithReceiveTimes) {
  std::vector<Seen> all;
  ASSERT_TRUE(source_->ForEach("CIT-1", At(kT0), Collect(all)).ok());
  ASSERT_EQ(all.size(), 5u);
  const std::vector<uint64_t> seqs = {1, 2, 3, 5, 4};
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].chain_index, i + 1);
    EXPECT_EQ(all[i].seq, seqs[i]);
    EXPECT_EQ(all[i].received_s, static_cast<int64_t>(i));
  }
  std::vector<Seen> window;
  ASSERT_TRUE(source_->ForEach("CIT-1", At(kT0 + 3), Collect(window)).ok());
  ASSERT_EQ(window.size(), 3u) << "from seq 3 on, in chain order";
  EXPECT_EQ(window[0].seq, 3u);
  EXPECT_EQ(window[1].seq, 5u);
  EXPECT_EQ(window[2].seq, 4u);
  std::vector<Seen> none;
  ASSERT_TRUE(source_->ForEach("CIT-1", At(kT0 + 60), Collect(none)).ok());
  ASSERT_TRUE(source_->ForEach("CIT-9", At(kT0), Collect(none)).ok());
  EXPECT_TRUE(none.empty());
}

TEST_P(ReplaySourceTest, LocateAndForEachAfterReadTheTailOfASnapshot) {
  auto at = source_->Locate("CIT-1", 5);
  ASSERT_TRUE(at.ok()) << at.status();
  ASSERT_TRUE(at->has_value());
  EXPECT_EQ((*at)->chain_index, 4u);
  EXPECT_EQ((*at)->server_received_time, At(kT0 + 103));
  auto missing = source_->Locate("CIT-1", 6);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  std::vector<Seen> tail;
  ASSERT_TRUE(source_->ForEachAfter("CIT-1", 3, Collect(tail)).ok());
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].seq, 5u);
  EXPECT_EQ(tail[1].seq, 4u);
}

TEST_P(ReplaySourceTest, LastReceivedBeforeAndVehiclesHeardSince) {
  auto last = source_->LastReceivedBefore("CIT-1", At(kT0 + 103));
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ(**last, At(kT0 + 102));
  auto before_all = source_->LastReceivedBefore("CIT-1", At(kT0 + 100));
  ASSERT_TRUE(before_all.ok());
  EXPECT_FALSE(before_all->has_value());
  auto heard = source_->VehiclesHeardSince(At(kT0));
  ASSERT_TRUE(heard.ok()) << heard.status();
  EXPECT_EQ(*heard, std::vector<std::string>{"CIT-1"}) << "CIT-2 was last heard an hour before";
  heard = source_->VehiclesHeardSince(At(kT0 - 7200));
  ASSERT_TRUE(heard.ok());
  EXPECT_EQ(*heard, (std::vector<std::string>{"CIT-1", "CIT-2"}));
}

TEST_P(ReplaySourceTest, TheLatestSnapshotOfEachVehicleIsReadBackAndReplaced) {
  auto none = source_->Snapshot("CIT-1");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  StoredSnapshot s{"CIT-1", "R-1", 2, 5, kT0 * 1'000'000'000, std::string("\0\1state", 7)};
  ASSERT_TRUE(snapshots_->Put(std::span<const StoredSnapshot>(&s, 1)).ok());
  s.last_seq = 4;
  s.bytes = std::string("\xff\0newer", 7);
  StoredSnapshot other{"CIT-2", "R-2", 1, 1, 0, "x"};
  ASSERT_TRUE(snapshots_->Put(std::vector<StoredSnapshot>{s, other}).ok());
  auto read = source_->Snapshot("CIT-1");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->run_id, "R-1");
  EXPECT_EQ((*read)->plan_version, 2u);
  EXPECT_EQ((*read)->last_seq, 4u);
  EXPECT_EQ((*read)->taken_ns, kT0 * 1'000'000'000);
  EXPECT_EQ((*read)->bytes, s.bytes);
  auto direct = snapshots_->Get("CIT-2");
  ASSERT_TRUE(direct.ok() && direct->has_value());
  EXPECT_EQ((*direct)->run_id, "R-2");
}

}  // namespace
}  // namespace cit::dispatch
