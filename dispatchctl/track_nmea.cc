// NMEA 0183 tracks: RMC and GGA sentences with checksums (track_formats.h).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "dispatchctl/track_common.h"
#include "dispatchctl/track_formats.h"

namespace cit::ctl {
namespace {

using internal::LineError;

constexpr double kKnotToMps = 1852.0 / 3600.0;
// Longest sentence NMEA allows is 82 characters; receivers' proprietary ones run longer.
constexpr std::size_t kMaxSentence = 512;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The sentence body between '$' and '*' after checking the checksum; error text otherwise.
absl::StatusOr<std::string_view> CheckedBody(std::string_view s) {
  const std::size_t star = s.rfind('*');
  if (star == std::string_view::npos || star + 3 != s.size()) {
    return absl::InvalidArgumentError("no *hh checksum at the end of the sentence");
  }
  const int hi = HexDigit(s[star + 1]), lo = HexDigit(s[star + 2]);
  if (hi < 0 || lo < 0) return absl::InvalidArgumentError("checksum is not two hex digits");
  uint8_t sum = 0;
  for (char c : s.substr(1, star - 1)) sum ^= static_cast<uint8_t>(c);
  if (sum != hi * 16 + lo) {
    char computed[4];
    std::snprintf(computed, sizeof computed, "%02X", sum);
    return absl::InvalidArgumentError(internal::Cat("checksum *", s.substr(star + 1),
                                                    ", computed *", computed, " (damaged line?)"));
  }
  return s.substr(1, star - 1);
}

// ddmm.mmmm + hemisphere to degrees.
std::optional<double> Coordinate(std::string_view value, std::string_view hemi, int deg_digits) {
  if (value.size() < static_cast<std::size_t>(deg_digits) + 2) return std::nullopt;
  std::optional<double> deg = internal::ParseNumber(value.substr(0, deg_digits));
  std::optional<double> min = internal::ParseNumber(value.substr(deg_digits));
  if (!deg || !min || *min < 0 || *min >= 60 || *deg < 0) return std::nullopt;
  double d = *deg + *min / 60.0;
  if (hemi == "S" || hemi == "W") {
    d = -d;
  } else if (hemi != "N" && hemi != "E") {
    return std::nullopt;
  }
  return d;
}

// hhmmss[.sss] to milliseconds of the day.
std::optional<int64_t> TimeOfDayMs(std::string_view v) {
  if (v.size() < 6) return std::nullopt;
  std::optional<double> h = internal::ParseNumber(v.substr(0, 2));
  std::optional<double> m = internal::ParseNumber(v.substr(2, 2));
  std::optional<double> s = internal::ParseNumber(v.substr(4));
  if (!h || !m || !s || *h < 0 || *h > 23 || *m < 0 || *m > 59 || *s < 0 || *s >= 61) {
    return std::nullopt;
  }
  return static_cast<int64_t>(std::llround(((*h * 60 + *m) * 60 + *s) * 1000));
}

// ddmmyy to days since 1970-01-01 (years 80..99 are 19xx, as NMEA receivers mean them).
std::optional<int64_t> DayNumber(std::string_view v) {
  if (v.size() != 6) return std::nullopt;
  std::optional<double> d = internal::ParseNumber(v.substr(0, 2));
  std::optional<double> mo = internal::ParseNumber(v.substr(2, 2));
  std::optional<double> y = internal::ParseNumber(v.substr(4, 2));
  if (!d || !mo || !y || *d < 1 || *d > 31 || *mo < 1 || *mo > 12) return std::nullopt;
  const int64_t year = static_cast<int64_t>(*y) + (*y >= 80 ? 1900 : 2000);
  const absl::CivilDay civil(year, static_cast<int>(*mo), static_cast<int>(*d));
  if (civil.day() != static_cast<int>(*d)) return std::nullopt;  // 31 June normalised away
  return (civil - absl::CivilDay(1970, 1, 1));
}

struct Pending {  // a GGA waiting for a date
  int64_t time_of_day_ms;
  TrackFix fix;
  std::size_t line;
};

}  // namespace

absl::StatusOr<std::vector<TrackFix>> ParseNmeaTrack(std::string_view text,
                                                     std::string_view source) {
  internal::FixList fixes;
  std::optional<int64_t> day;          // of the last RMC
  std::optional<int64_t> last_tod_ms;  // of the last fix, to carry the date across midnight
  std::vector<Pending> undated;        // GGAs before the first RMC
  std::size_t line_no = 0;
  auto add = [&](int64_t tod_ms, TrackFix fix, std::size_t line) -> absl::Status {
    // A time of day smaller than the previous one after the last RMC: midnight passed.
    if (last_tod_ms && tod_ms + 12 * 3600 * 1000 < *last_tod_ms) *day += 1;
    last_tod_ms = tod_ms;
    fix.time_unix_ms = *day * 86'400'000 + tod_ms;
    return fixes.Add(fix, internal::Cat(source, ":", line));
  };
  for (std::string_view line : internal::Split(text, '\n')) {
    ++line_no;
    line = internal::StripTrailing(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() != '$' && line.front() != '!') {
      return LineError(source, line_no,
                       "not an NMEA sentence (must start with '$'); is this a binary capture?");
    }
    if (line.size() > kMaxSentence) {
      return LineError(source, line_no,
                       internal::Cat("sentence longer than ", kMaxSentence, " characters"));
    }
    absl::StatusOr<std::string_view> body = CheckedBody(line);
    if (!body.ok()) return LineError(source, line_no, std::string(body.status().message()));
    std::vector<std::string_view> f = internal::Split(*body, ',');
    if (f[0].size() != 5) continue;  // proprietary ($PUBX...) and others
    const std::string_view type = f[0].substr(2);
    const bool rmc = type == "RMC", gga = type == "GGA";
    if (!rmc && !gga) continue;
    if (f.size() < (rmc ? 10u : 7u)) {
      return LineError(source, line_no,
                       internal::Cat(type, " with ", f.size(), " fields; too few"));
    }
    // No fix: RMC status V, GGA quality 0 (a plan check judges positions only).
    if ((rmc && f[2] != "A") || (gga && (f[6].empty() || f[6] == "0"))) continue;
    std::optional<int64_t> tod = TimeOfDayMs(f[1]);
    const int lat_i = rmc ? 3 : 2;
    std::optional<double> lat = Coordinate(f[lat_i], f[lat_i + 1], 2);
    std::optional<double> lon = Coordinate(f[lat_i + 2], f[lat_i + 3], 3);
    if (!tod) return LineError(source, line_no, internal::Cat("time '", f[1], "' is not hhmmss"));
    if (!lat || !lon || !internal::PositionProblem(*lat, *lon).empty()) {
      return LineError(source, line_no, "position is not ddmm.mmmm,N|S,dddmm.mmmm,E|W");
    }
    TrackFix fix;
    fix.lat_deg = *lat;
    fix.lon_deg = *lon;
    if (rmc) {
      std::optional<int64_t> d = DayNumber(f[9]);
      if (!d) return LineError(source, line_no, internal::Cat("date '", f[9], "' is not ddmmyy"));
      if (std::optional<double> kn = internal::ParseNumber(f[7]); kn && *kn >= 0) {
        fix.speed_mps = *kn * kKnotToMps;
      }
      if (std::optional<double> c = internal::ParseNumber(f[8]); c && *c >= 0 && *c < 360) {
        fix.track_deg = *c;
      }
      const bool first_date = !day.has_value();
      day = *d;
      last_tod_ms.reset();
      if (first_date) {
        for (const Pending& p : undated) {
          // Before the first RMC; a GGA from before midnight belongs to the previous day.
          TrackFix earlier = p.fix;
          const int64_t pday = p.time_of_day_ms > *tod + 12 * 3600 * 1000 ? *d - 1 : *d;
          earlier.time_unix_ms = pday * 86'400'000 + p.time_of_day_ms;
          if (absl::Status s = fixes.Add(earlier, internal::Cat(source, ":", p.line)); !s.ok()) {
            return s;
          }
        }
        undated.clear();
      }
      if (absl::Status s = add(*tod, fix, line_no); !s.ok()) return s;
    } else if (day) {
      if (absl::Status s = add(*tod, fix, line_no); !s.ok()) return s;
    } else if (undated.size() < kMaxTrackFixes) {
      undated.push_back({*tod, fix, line_no});
    }
  }
  if (!undated.empty()) {
    return LineError(source, undated.front().line,
                     "GGA sentences but no RMC in the file: GGA carries no date; record RMC "
                     "sentences too (or convert the track to CSV with dates)");
  }
  return std::move(fixes).Finish(source);
}

}  // namespace cit::ctl
