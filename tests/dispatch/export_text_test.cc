// The export's hand-written number and time text must be exactly what printf("%.*f") and
// TimeUtil::ToString write (the documents' bytes did not change when they replaced them).
#include "dispatch-server/audit/export_text.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

namespace cit::dispatch {
namespace {

std::string Printf(double v, int decimals) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Fixed(double v, int decimals) {
  std::string out = "x";  // appends, never replaces
  AppendFixed(out, v, decimals);
  return out.substr(1);
}

TEST(ExportTextTest, FixedIsPrintfForCoordinatesSpeedsAndEdgeValues) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> coord(-180.0, 180.0);
  std::uniform_real_distribution<double> small(0.0, 100.0);
  for (int i = 0; i < 200000; ++i) {
    const double c = coord(rng);
    ASSERT_EQ(Fixed(c, 7), Printf(c, 7)) << i;
    const double s = small(rng);
    for (int d : {1, 2}) ASSERT_EQ(Fixed(s, d), Printf(s, d)) << s;
  }
  // Ties, signed zero, rounding across a power of ten, huge, tiny, not finite.
  for (double v :
       {0.125, 0.375, 2.5, -0.0, 0.0, 9.9999999999, -9.99999995, 1e300, -1.7e308, 5e-324,
        std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity()}) {
    for (int d : {0, 1, 2, 7}) EXPECT_EQ(Fixed(v, d), Printf(v, d)) << v << " " << d;
  }
}

TEST(ExportTextTest, UintHasItsDigits) {
  for (uint64_t v :
       {uint64_t{0}, uint64_t{7}, uint64_t{1234567890}, std::numeric_limits<uint64_t>::max()}) {
    std::string out;
    AppendUint(out, v);
    EXPECT_EQ(out, std::to_string(v));
  }
}

TEST(ExportTextTest, Rfc3339IsTimeUtilsTextForEveryFractionAndEdgeOfTheRange) {
  using google::protobuf::Timestamp;
  using google::protobuf::util::TimeUtil;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int64_t> secs(-62135596800, 253402300799);
  std::uniform_int_distribution<int32_t> nanos(0, 999999999);
  auto check = [](int64_t s, int32_t n) {
    Timestamp t;
    t.set_seconds(s);
    t.set_nanos(n);
    std::string out;
    AppendRfc3339(t, out);
    ASSERT_EQ(out, TimeUtil::ToString(t)) << s << "." << n;
  };
  for (int i = 0; i < 100000; ++i) {
    const int64_t s = secs(rng);
    const int32_t n = nanos(rng);
    check(s, n);                      // 9 digits
    check(s, n / 1000 * 1000);        // 6
    check(s, n / 1000000 * 1000000);  // 3
    check(s, 0);                      // none
  }
  for (int64_t s : {int64_t{-62135596800}, int64_t{253402300799}, int64_t{0}, int64_t{-1},
                    int64_t{951782400} /* 2000-02-29 */, int64_t{1798675200}}) {
    check(s, 0);
    check(s, 1);
  }
  // Outside the range TimeUtil's own text (whatever it is) is written.
  Timestamp far;
  far.set_seconds(253402300800);
  std::string out;
  AppendRfc3339(far, out);
  EXPECT_EQ(out, TimeUtil::ToString(far));
}

}  // namespace
}  // namespace cit::dispatch
