// What every track parser (dispatchctl/track_formats.h) promises about a track it accepts, for
// the four track fuzz targets: at least one fix, at most kMaxTrackFixes, strictly increasing
// times, positions in range, speeds >= 0 and courses in [0, 360) where present. A refusal is a
// fine outcome; a crash, a hang or a broken promise is a finding.
#ifndef CIT_TESTS_FUZZ_TRACK_CHECK_H_
#define CIT_TESTS_FUZZ_TRACK_CHECK_H_

#include <cmath>
#include <vector>

#include "absl/status/statusor.h"
#include "dispatchctl/track_formats.h"

namespace cit::fuzz {

inline void CheckTrack(const absl::StatusOr<std::vector<cit::ctl::TrackFix>>& track) {
  if (!track.ok()) return;
  if (track->empty() || track->size() > cit::ctl::kMaxTrackFixes) __builtin_trap();
  for (std::size_t i = 0; i < track->size(); ++i) {
    const cit::ctl::TrackFix& f = (*track)[i];
    if (i > 0 && f.time_unix_ms <= (*track)[i - 1].time_unix_ms) __builtin_trap();
    if (!std::isfinite(f.lat_deg) || !std::isfinite(f.lon_deg) || std::fabs(f.lat_deg) > 90 ||
        std::fabs(f.lon_deg) > 180) {
      __builtin_trap();
    }
    if (f.speed_mps && !(*f.speed_mps >= 0)) __builtin_trap();
    if (f.track_deg && !(*f.track_deg >= 0 && *f.track_deg < 360)) __builtin_trap();
  }
}

}  // namespace cit::fuzz

#endif  // CIT_TESTS_FUZZ_TRACK_CHECK_H_
