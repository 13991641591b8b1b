// The WatchAlerts resume token (alerts/watch_cursor.h): what Encode makes Decode reads back;
// anything else is refused; seen ranges merge and stay capped.
#include "dispatch-server/alerts/watch_cursor.h"

#include <gtest/gtest.h>

#include <string>

namespace cit::dispatch {
namespace {

TEST(WatchCursorTest, EncodeThenDecodeGivesTheSameCursor) {
  WatchCursor c;
  c.log_through = 41;
  c.AddSeen(20'001, 20'003);
  c.AddSeen(7, 9);
  EXPECT_EQ(c.Encode(), "w1.41.7-9.20001-20003");
  absl::StatusOr<WatchCursor> back = WatchCursor::Decode(c.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->log_through, 41u);
  EXPECT_EQ(back->seen, c.seen);
  EXPECT_TRUE(back->Seen(8));
  EXPECT_TRUE(back->Seen(20'003));
  EXPECT_FALSE(back->Seen(10));
}

TEST(WatchCursorTest, AdjacentAndOverlappingRangesMergeAndTheLowestGoBeyondTheCap) {
  WatchCursor c;
  c.AddSeen(1, 5);
  c.AddSeen(6, 10);
  c.AddSeen(3, 12);
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0], std::make_pair(uint64_t{1}, uint64_t{12}));
  for (uint64_t n = 1; n <= WatchCursor::kMaxRanges + 3; ++n) c.AddSeen(100 * n, 100 * n + 1);
  EXPECT_EQ(c.seen.size(), WatchCursor::kMaxRanges);
  EXPECT_FALSE(c.Seen(1)) << "the lowest ids go first";
  EXPECT_TRUE(c.Seen(100 * (WatchCursor::kMaxRanges + 3)));
  EXPECT_LE(c.Encode().size(), WatchCursor::kMaxTokenBytes);
}

TEST(WatchCursorTest, AnythingEncodeDoesNotMakeIsRefused) {
  for (const std::string& bad :
       {std::string(""), std::string("41"), std::string("w2.41"), std::string("w1."),
        std::string("w1.x"), std::string("w1.41.5"), std::string("w1.41.9-5"),
        std::string("w1.41.0-5"), std::string("w1.41.-5"), std::string("w1.41.1-2-3"),
        std::string("w1.99999999999999999999"), std::string(2000, '1')}) {
    absl::StatusOr<WatchCursor> c = WatchCursor::Decode(bad);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  std::string many = "w1.1";
  for (int n = 0; n <= static_cast<int>(WatchCursor::kMaxRanges); ++n) {
    many += "." + std::to_string(10 * n + 1) + "-" + std::to_string(10 * n + 2);
  }
  EXPECT_EQ(WatchCursor::Decode(many).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cit::dispatch
