// CSV tracks: `time,lat,lon[,speed,track]` (track_formats.h).
#include <string>
#include <vector>

#include "dispatchctl/track_common.h"
#include "dispatchctl/track_formats.h"

namespace cit::ctl {
namespace {

using internal::LineError;

// Optional columns: empty means "not reported".
absl::Status OptionalColumn(const std::vector<std::string_view>& f, std::size_t i, const char* name,
                            std::string_view source, std::size_t line, std::optional<double>& out) {
  if (f.size() <= i || internal::Strip(f[i]).empty()) return absl::OkStatus();
  std::optional<double> v = internal::ParseNumber(f[i]);
  if (!v || *v < 0) {
    return LineError(
        source, line,
        internal::Cat(name, " '", f[i], "' is not a number >= 0 (leave it empty if unknown)"));
  }
  out = *v;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<TrackFix>> ParseCsvTrack(std::string_view text,
                                                    std::string_view source) {
  internal::FixList fixes;
  std::size_t line_no = 0;
  bool first_data_line = true;
  for (std::string_view line : internal::Split(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (internal::Strip(line).empty() || line.front() == '#') continue;
    std::vector<std::string_view> f = internal::Split(line, ',');
    const bool header = first_data_line && !internal::ParseTimeMs(f[0]).has_value();
    first_data_line = false;
    if (header) continue;
    if (f.size() < 3 || f.size() > 5) {
      return LineError(source, line_no,
                       internal::Cat(f.size(), " fields; expected time,lat,lon[,speed,track]"));
    }
    TrackFix fix;
    std::optional<int64_t> t = internal::ParseTimeMs(internal::Strip(f[0]));
    if (!t) {
      return LineError(source, line_no,
                       internal::Cat("time '", f[0], "' is neither RFC 3339 nor Unix seconds"));
    }
    fix.time_unix_ms = *t;
    std::optional<double> lat = internal::ParseNumber(f[1]);
    std::optional<double> lon = internal::ParseNumber(f[2]);
    if (!lat || !lon) {
      return LineError(source, line_no,
                       internal::Cat("lat '", f[1], "' / lon '", f[2], "': not numbers"));
    }
    if (std::string p = internal::PositionProblem(*lat, *lon); !p.empty()) {
      return LineError(source, line_no, p + " (columns are time,lat,lon: swapped?)");
    }
    fix.lat_deg = *lat;
    fix.lon_deg = *lon;
    if (absl::Status s = OptionalColumn(f, 3, "speed", source, line_no, fix.speed_mps); !s.ok()) {
      return s;
    }
    if (absl::Status s = OptionalColumn(f, 4, "track", source, line_no, fix.track_deg); !s.ok()) {
      return s;
    }
    if (fix.track_deg && *fix.track_deg >= 360) {
      return LineError(source, line_no,
                       internal::Cat("track ", *fix.track_deg, " is not in [0, 360)"));
    }
    if (absl::Status s = fixes.Add(fix, internal::Cat(source, ":", line_no)); !s.ok()) return s;
  }
  return std::move(fixes).Finish(source);
}

}  // namespace cit::ctl
