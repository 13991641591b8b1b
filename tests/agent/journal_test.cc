// Journal: torn-tail recovery, seq persistence across restarts and trims, the full-journal
// thinning policy, acknowledgement-only trimming. Real files in a temp dir.
#include "vehicle-agent/journal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/support/test_env.h"

namespace cit::agent {
namespace {

cit::v1::Record FixRecord(double lat) {
  cit::v1::Record r;
  r.set_vehicle_id("truck-1");
  r.mutable_fix()->set_lat_deg(lat);
  r.mutable_fix()->set_lon_deg(11.5);
  r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
  return r;
}

cit::v1::Record DoorRecord(uint32_t door) {
  cit::v1::Record r;
  r.set_vehicle_id("truck-1");
  r.mutable_door()->set_door(door);
  r.mutable_door()->set_state(cit::v1::DOOR_STATE_OPEN);
  return r;
}

std::unique_ptr<Journal> OpenJournal(const std::filesystem::path& dir, uint64_t max_bytes = 1 << 30,
                                     uint64_t segment_bytes = 4 << 20) {
  JournalOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.segment_bytes = segment_bytes;
  auto j = Journal::Open(o);
  EXPECT_TRUE(j.ok()) << j.status();
  return std::move(*j);
}

std::vector<std::filesystem::path> Segments(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint64_t> Seqs(const std::vector<cit::v1::Record>& recs) {
  std::vector<uint64_t> s;
  for (const auto& r : recs) s.push_back(r.seq());
  return s;
}

TEST(JournalTest, SeqStartsAtOneAndRecordsReadBackAfterSync) {
  test::TempDir dir;
  auto j = OpenJournal(dir.path());
  for (int i = 0; i < 5; ++i) {
    auto r = FixRecord(48.0 + i);
    auto seq = j->Append(r);
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, static_cast<uint64_t>(i + 1));
  }
  // Not yet durable: nothing may be sent.
  EXPECT_TRUE(j->Read(1, 100)->empty());
  ASSERT_TRUE(j->Sync().ok());
  auto recs = j->Read(1, 100);
  ASSERT_TRUE(recs.ok());
  EXPECT_EQ(Seqs(*recs), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_DOUBLE_EQ((*recs)[2].fix().lat_deg(), 50.0);
  EXPECT_EQ(Seqs(*j->Read(4, 100)), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(Seqs(*j->Read(2, 2)), (std::vector<uint64_t>{2, 3}));
}

TEST(JournalTest, TornLastRecordIsDroppedAndEverythingBeforeKept) {
  test::TempDir dir;
  {
    auto j = OpenJournal(dir.path());
    for (int i = 0; i < 10; ++i) {
      auto r = FixRecord(48.0 + i);
      ASSERT_TRUE(j->Append(r).ok());
    }
    ASSERT_TRUE(j->Sync().ok());
  }
  // Simulate a power cut mid-write: half of an 11th frame at the end of the segment.
  auto segs = Segments(dir.path());
  ASSERT_EQ(segs.size(), 1u);
  const auto size_before = std::filesystem::file_size(segs[0]);
  {
    int fd = ::open(segs[0].c_str(), O_WRONLY | O_APPEND);
    const char partial[] = {0x40, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x0a, 0x07};
    ASSERT_EQ(::write(fd, partial, sizeof partial), static_cast<ssize_t>(sizeof partial));
    ::close(fd);
  }
  auto j = OpenJournal(dir.path());
  EXPECT_EQ(j->stats().torn_frames_dropped, 1u);
  EXPECT_EQ(std::filesystem::file_size(segs[0]), size_before);
  EXPECT_EQ(j->last_seq(), 10u);
  auto recs = j->Read(1, 100);
  ASSERT_TRUE(recs.ok());
  EXPECT_EQ(recs->size(), 10u);
  auto r = FixRecord(1.0);
  EXPECT_EQ(*j->Append(r), 11u);
}

TEST(JournalTest, CorruptCrcInLastRecordDropsOnlyThatRecord) {
  test::TempDir dir;
  {
    auto j = OpenJournal(dir.path());
    for (int i = 0; i < 4; ++i) {
      auto r = FixRecord(48.0 + i);
      ASSERT_TRUE(j->Append(r).ok());
    }
  }
  auto segs = Segments(dir.path());
  const auto size = std::filesystem::file_size(segs[0]);
  {
    // Flip the last byte: a sector of the last frame never reached the disk intact.
    int fd = ::open(segs[0].c_str(), O_RDWR);
    char c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(size - 1)), 1);
    c = static_cast<char>(c ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(size - 1)), 1);
    ::close(fd);
  }
  auto j = OpenJournal(dir.path());
  EXPECT_EQ(j->stats().torn_frames_dropped, 1u);
  EXPECT_EQ(Seqs(*j->Read(1, 100)), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(JournalTest, SeqSurvivesRestartEvenWhenEverySegmentWasTrimmed) {
  test::TempDir dir;
  {
    auto j = OpenJournal(dir.path());
    for (int i = 0; i < 7; ++i) {
      auto r = FixRecord(48.0);
      ASSERT_TRUE(j->Append(r).ok());
    }
    ASSERT_TRUE(j->Sync().ok());
    ASSERT_TRUE(j->Acknowledge(7).ok());
    EXPECT_TRUE(Segments(dir.path()).empty());
    EXPECT_EQ(j->first_unacked_seq(), 0u);
  }
  auto j = OpenJournal(dir.path());
  EXPECT_EQ(j->first_unacked_seq(), 0u);
  auto r = FixRecord(48.0);
  EXPECT_EQ(*j->Append(r), 8u);
}

TEST(JournalTest, StateThatIsNotARegularFileIsAnErrorNotAHangOrAFreshStart) {
  test::TempDir dir;
  { OpenJournal(dir.path()); }
  // A FIFO in place of the state file: std::ifstream would block opening it for ever; reading
  // it as empty would restart seqs at 1, seqs the server may already hold.
  std::filesystem::remove(dir / "state");
  ASSERT_EQ(::mkfifo((dir / "state").c_str(), 0600), 0);
  JournalOptions o;
  o.dir = dir.path();
  auto j = Journal::Open(o);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("journal state"), std::string::npos) << j.status();
  EXPECT_NE(j.status().message().find("not a regular file"), std::string::npos) << j.status();
}

TEST(JournalTest, JournalDirThatIsAFileIsAnErrorNamingIt) {
  test::TempDir dir;
  std::ofstream(dir / "journal") << "not a directory";
  JournalOptions o;
  o.dir = dir / "journal";
  auto j = Journal::Open(o);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find(o.dir.string()), std::string::npos) << j.status();
}

TEST(JournalTest, SeqSurvivesRestartWithRecordsKept) {
  test::TempDir dir;
  {
    auto j = OpenJournal(dir.path());
    for (int i = 0; i < 3; ++i) {
      auto r = FixRecord(48.0);
      ASSERT_TRUE(j->Append(r).ok());
    }
  }
  auto j = OpenJournal(dir.path());
  EXPECT_EQ(j->first_unacked_seq(), 1u);
  auto r = FixRecord(48.0);
  EXPECT_EQ(*j->Append(r), 4u);
  ASSERT_TRUE(j->Sync().ok());
  EXPECT_EQ(Seqs(*j->Read(1, 10)), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(JournalTest, LastFixSurvivesRestartAndTrimming) {
  test::TempDir dir;
  {
    auto j = OpenJournal(dir.path());
    EXPECT_FALSE(j->last_fix().has_value());
    auto r = FixRecord(48.25);
    r.mutable_event_time()->set_seconds(1000);
    ASSERT_TRUE(j->Append(r).ok());
    auto door = DoorRecord(1);
    ASSERT_TRUE(j->Append(door).ok());
  }
  {
    auto j = OpenJournal(dir.path());  // from the segment
    ASSERT_TRUE(j->last_fix().has_value());
    EXPECT_EQ(j->last_fix()->time_ns, 1000 * 1'000'000'000LL);
    EXPECT_DOUBLE_EQ(j->last_fix()->lat_deg, 48.25);
    ASSERT_TRUE(j->Acknowledge(2).ok());
    EXPECT_TRUE(Segments(dir.path()).empty());
  }
  auto j = OpenJournal(dir.path());  // from the state file
  ASSERT_TRUE(j->last_fix().has_value());
  EXPECT_EQ(j->last_fix()->time_ns, 1000 * 1'000'000'000LL);
  EXPECT_DOUBLE_EQ(j->last_fix()->lat_deg, 48.25);
  EXPECT_DOUBLE_EQ(j->last_fix()->lon_deg, 11.5);
}

// A recovered fix whose time is past the year 2262 (a damaged or foreign segment) must not
// overflow int64 nanoseconds (undefined behaviour, found by fuzz.journal): it saturates.
TEST(JournalTest, FixTimeBeyondInt64NanosSaturatesInsteadOfOverflowing) {
  test::TempDir dir;
  {
    auto j = OpenJournal(dir.path());
    auto r = FixRecord(48.25);
    r.mutable_event_time()->set_seconds(18'975'819'184);
    ASSERT_TRUE(j->Append(r).ok());
  }
  auto j = OpenJournal(dir.path());
  ASSERT_TRUE(j->last_fix().has_value());
  EXPECT_GT(j->last_fix()->time_ns, 9'000'000'000LL * 1'000'000'000LL);
  EXPECT_DOUBLE_EQ(j->last_fix()->lat_deg, 48.25);
}

TEST(JournalTest, BootCounterIncrementsOnEveryOpen) {
  test::TempDir dir;
  uint32_t first = OpenJournal(dir.path())->boot();
  EXPECT_EQ(OpenJournal(dir.path())->boot(), first + 1);
}

TEST(JournalTest, OnlyWholeAcknowledgedSegmentsAreDeleted) {
  test::TempDir dir;
  auto j = OpenJournal(dir.path(), 1 << 30, /*segment_bytes=*/4096);
  for (int i = 0; i < 300; ++i) {
    auto r = FixRecord(48.0 + i * 1e-4);
    ASSERT_TRUE(j->Append(r).ok());
  }
  ASSERT_TRUE(j->Sync().ok());
  const size_t segs_before = Segments(dir.path()).size();
  ASSERT_GT(segs_before, 3u);
  ASSERT_TRUE(j->Acknowledge(150).ok());
  EXPECT_LT(Segments(dir.path()).size(), segs_before);
  // Every unacknowledged record is still there, in order, without holes.
  auto recs = j->Read(151, 1000);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 150u);
  EXPECT_EQ(recs->front().seq(), 151u);
  EXPECT_EQ(recs->back().seq(), 300u);
  EXPECT_LE(j->first_unacked_seq(), 151u);
  EXPECT_GE(j->first_unacked_seq(), 1u);
  // Acknowledging a seq beyond what exists trims everything and keeps the seq.
  ASSERT_TRUE(j->Acknowledge(300).ok());
  EXPECT_TRUE(Segments(dir.path()).empty());
  auto r = FixRecord(1.0);
  EXPECT_EQ(*j->Append(r), 301u);
}

TEST(JournalTest, FullJournalThinsFixesAndKeepsEveryEvent) {
  test::TempDir dir;
  const uint64_t max_bytes = 32 * 1024;
  auto j = OpenJournal(dir.path(), max_bytes, /*segment_bytes=*/4096);
  std::set<uint64_t> door_seqs;
  for (int i = 0; i < 3000; ++i) {
    auto r = (i % 25 == 0) ? DoorRecord(1) : FixRecord(48.0 + i * 1e-5);
    auto seq = j->Append(r);
    ASSERT_TRUE(seq.ok());
    if (r.has_door()) door_seqs.insert(*seq);
  }
  ASSERT_TRUE(j->Sync().ok());
  EXPECT_GT(j->stats().fixes_thinned, 0u);
  EXPECT_LE(j->total_bytes(), max_bytes + 4096);
  auto recs = j->Read(1, 100000);
  ASSERT_TRUE(recs.ok());
  std::set<uint64_t> doors_kept;
  uint64_t prev = 0;
  size_t fixes = 0;
  for (const auto& r : *recs) {
    EXPECT_GT(r.seq(), prev);
    prev = r.seq();
    if (r.has_door()) doors_kept.insert(r.seq());
    if (r.has_fix()) ++fixes;
  }
  EXPECT_EQ(doors_kept, door_seqs);
  EXPECT_GT(fixes, 0u);
  EXPECT_EQ(prev, 3000u);  // the newest record is always kept
  // Thinned journal reopens cleanly, and seq continues.
  j.reset();
  auto j2 = OpenJournal(dir.path(), max_bytes, 4096);
  EXPECT_EQ(j2->stats().torn_frames_dropped, 0u);
  auto r = FixRecord(1.0);
  EXPECT_EQ(*j2->Append(r), 3001u);
}

TEST(JournalTest, EnsureSeqAboveSkipsSeqsTheServerAlreadyHolds) {
  test::TempDir dir;
  {
    auto j = OpenJournal(dir.path());
    auto r = FixRecord(1.0);
    ASSERT_TRUE(j->Append(r).ok());
    ASSERT_TRUE(j->EnsureSeqAbove(500).ok());
    auto r2 = FixRecord(2.0);
    EXPECT_EQ(*j->Append(r2), 501u);
  }
  auto j = OpenJournal(dir.path());
  auto r = FixRecord(3.0);
  EXPECT_EQ(*j->Append(r), 502u);
}

TEST(JournalTest, ReadAcrossSegmentsContinuesFromCursor) {
  test::TempDir dir;
  auto j = OpenJournal(dir.path(), 1 << 30, 4096);
  for (int i = 0; i < 1000; ++i) {
    auto r = FixRecord(48.0);
    ASSERT_TRUE(j->Append(r).ok());
  }
  ASSERT_TRUE(j->Sync().ok());
  uint64_t next = 1;
  std::vector<uint64_t> all;
  for (;;) {
    auto recs = j->Read(next, 37);
    ASSERT_TRUE(recs.ok());
    if (recs->empty()) break;
    for (auto& r : *recs) all.push_back(r.seq());
    next = recs->back().seq() + 1;
  }
  ASSERT_EQ(all.size(), 1000u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
}

}  // namespace
}  // namespace cit::agent
