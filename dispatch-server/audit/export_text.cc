#include "dispatch-server/audit/export_text.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace cit::dispatch {
namespace {

// "00".."99", for two digits at a time.
constexpr char kTwoDigits[] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546"
    "4748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293"
    "949596979899";

// Appends v as exactly `width` digits (leading zeros); 0 <= v < 10^width, width <= 10.
void AppendPadded(std::string& out, int64_t v, int width) {
  char buf[10];
  int i = width;
  while (i >= 2) {
    const auto two = static_cast<size_t>(v % 100) * 2;
    buf[--i] = kTwoDigits[two + 1];
    buf[--i] = kTwoDigits[two];
    v /= 100;
  }
  if (i == 1) buf[0] = static_cast<char>('0' + v % 10);
  out.append(buf, static_cast<size_t>(width));
}

}  // namespace

void AppendFixed(std::string& out, double v, int decimals) {
  // Enough for any double with up to 30 decimals ("-1.8e308" has 309 integer digits).
  char buf[360];
  if (std::isfinite(v) && decimals >= 0 && decimals <= 30) {
    const std::to_chars_result r =
        std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    if (r.ec == std::errc()) {
      out.append(buf, r.ptr);
      return;
    }
  }
  const int n = std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  if (n > 0) out.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendRfc3339(const google::protobuf::Timestamp& t, std::string& out) {
  constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (t.seconds() < kMinSeconds || t.seconds() > kMaxSeconds || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    out += google::protobuf::util::TimeUtil::ToString(t);
    return;
  }
  int64_t days = t.seconds() / 86400;
  int64_t secs = t.seconds() % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  AppendPadded(out, year, 4);
  out += '-';
  AppendPadded(out, month, 2);
  out += '-';
  AppendPadded(out, day, 2);
  out += 'T';
  AppendPadded(out, secs / 3600, 2);
  out += ':';
  AppendPadded(out, secs / 60 % 60, 2);
  out += ':';
  AppendPadded(out, secs % 60, 2);
  const int32_t nanos = t.nanos();
  if (nanos != 0) {
    out += '.';
    if (nanos % 1000000 == 0) {
      AppendPadded(out, nanos / 1000000, 3);
    } else if (nanos % 1000 == 0) {
      AppendPadded(out, nanos / 1000, 6);
    } else {
      AppendPadded(out, nanos, 9);
    }
  }
  out += 'Z';
}

}  // namespace cit::dispatch
