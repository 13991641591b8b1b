#include "dispatch-server/plancheck/check_track.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

// Times a track may carry: 1970 .. 9999 (protobuf Timestamp's range), in milliseconds.
constexpr int64_t kMaxTimeMs = int64_t{253'402'300'799} * 1000;

absl::Status CheckColumns(const cit::v1::CheckTrack& t) {
  const int n = t.time_unix_ms_size();
  if (static_cast<std::size_t>(n) > kMaxCheckRecords) {
    return absl::InvalidArgumentError(
        absl::StrCat("track: ", n, " fixes; at most ", kMaxCheckRecords,
                     " (a day at 1 Hz is 86,400): split the track or thin it"));
  }
  if (n == 0) return absl::InvalidArgumentError("track: no fixes");
  if (t.lat_deg_size() != n || t.lon_deg_size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("track: ", n, " times but ", t.lat_deg_size(),
                                                   " latitudes and ", t.lon_deg_size(),
                                                   " longitudes; every column needs one per fix"));
  }
  for (const auto& [name, size] :
       {std::pair{"speed_mps", t.speed_mps_size()}, std::pair{"track_deg", t.track_deg_size()}}) {
    if (size != 0 && size != n) {
      return absl::InvalidArgumentError(absl::StrCat("track.", name, ": ", size, " values for ", n,
                                                     " fixes (give none or one per fix)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRow(const cit::v1::CheckTrack& t, int i, int64_t previous_ms) {
  const int64_t ms = t.time_unix_ms(i);
  if (ms < 0 || ms > kMaxTimeMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("track.time_unix_ms[", i, "]: ", ms, " is outside 1970..9999"));
  }
  if (i > 0 && ms < previous_ms) {
    return absl::InvalidArgumentError(absl::StrCat("track.time_unix_ms[", i,
                                                   "]: goes back in time (", previous_ms, " -> ",
                                                   ms, "); fixes must be in time order"));
  }
  const double lat = t.lat_deg(i), lon = t.lon_deg(i);
  if (!std::isfinite(lat) || lat < -90 || lat > 90) {
    return absl::InvalidArgumentError(
        absl::StrCat("track.lat_deg[", i, "]: ", lat, " is outside [-90, 90]"));
  }
  if (!std::isfinite(lon) || lon < -180 || lon > 180) {
    return absl::InvalidArgumentError(
        absl::StrCat("track.lon_deg[", i, "]: ", lon, " is outside [-180, 180]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<cit::v1::Record>> TrackRecords(const cit::v1::CheckTrack& t,
                                                          const std::string& vehicle_id) {
  if (absl::Status s = CheckColumns(t); !s.ok()) return s;
  const int n = t.time_unix_ms_size();
  std::vector<cit::v1::Record> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    if (absl::Status s = CheckRow(t, i, i > 0 ? t.time_unix_ms(i - 1) : 0); !s.ok()) return s;
    cit::v1::Record& r = out.emplace_back();
    r.set_vehicle_id(vehicle_id);
    r.set_seq(static_cast<uint64_t>(i) + 1);
    const int64_t ms = t.time_unix_ms(i);
    r.mutable_event_time()->set_seconds(ms / 1000);
    r.mutable_event_time()->set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
    cit::v1::Fix* fix = r.mutable_fix();
    fix->set_lat_deg(t.lat_deg(i));
    fix->set_lon_deg(t.lon_deg(i));
    fix->set_mode(cit::v1::FIX_MODE_3D);
    // Negative or non-finite speeds and courses mean "not reported", as the agent treats them.
    if (t.speed_mps_size() > 0 && std::isfinite(t.speed_mps(i)) && t.speed_mps(i) >= 0) {
      fix->set_speed_mps(t.speed_mps(i));
    }
    if (t.track_deg_size() > 0 && std::isfinite(t.track_deg(i)) && t.track_deg(i) >= 0 &&
        t.track_deg(i) < 360) {
      fix->set_track_deg(t.track_deg(i));
    }
  }
  return out;
}

}  // namespace cit::dispatch
