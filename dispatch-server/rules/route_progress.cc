#include "dispatch-server/rules/route_progress.h"

#include <algorithm>
#include <cmath>

namespace cit::dispatch {
namespace {

// Along a bending road the progress between two fixes exceeds the straight distance between
// them (and the polyline of fixes cuts corners); 1.5x covers bends between 1 Hz fixes and most
// at 15 s.
constexpr double kBendFactor = 1.5;
// Two fixes on the corridor may project a little apart along it without moving (lateral
// offsets at a corner, noise).
constexpr double kSlackM = 30.0;
// Fixes further apart than this leave time unseen, in which the vehicle may have driven along
// the route at up to kMaxAlongSpeedMps (a coverage gap; a receiver sending every 15 s).
constexpr double kSeenIntervalS = 5.0;
constexpr double kMaxAlongSpeedMps = 40.0;

// Whether `f`'s progress can follow from a fix at `from_progress_m`, given the path the vehicle
// was seen to drive since (at least the straight line) and the time it was not seen.
bool Follows(geo::LonLat from, double from_progress_m, double from_eph_m, double path_m,
             double unseen_s, const FixContext& f) {
  const double driven_m = std::max(ApproxDistanceM(from, f.position), path_m);
  const double allowed_m =
      kBendFactor * driven_m + kMaxAlongSpeedMps * unseen_s + kSlackM + from_eph_m + f.eph_m;
  return std::abs(f.progress_m - from_progress_m) <= allowed_m;
}

void Continue(ProgressChainState& c, FixContext& f) {
  ++c.fixes;
  c.last_position = f.position;
  c.last_progress_m = f.progress_m;
  c.last_eph_m = f.eph_m;
  c.min_progress_m = std::min(c.min_progress_m, f.progress_m);
  c.candidate_position.reset();
  c.path_m = c.unseen_s = 0;
  f.progress_continuous = true;
}

}  // namespace

void NotePath(ProgressChainState& c, const FixContext& f) {
  if (c.path_last) {
    const double step_m = ApproxDistanceM(*c.path_last, f.position);
    const double unseen_s =
        std::max(0.0, Seconds(f.event_time - c.path_last_time) - kSeenIntervalS);
    c.path_m += step_m;
    c.unseen_s += unseen_s;
    c.candidate_path_m += step_m;
    c.candidate_unseen_s += unseen_s;
  }
  c.path_last = f.position;
  c.path_last_time = f.event_time;
}

std::optional<double> ChainProgress(const ProgressChainState& chain) {
  if (chain.fixes == 0) return std::nullopt;
  return chain.last_progress_m;
}

void ExtendChain(ProgressChainState& c, FixContext& f) {
  f.progress_continuous = false;
  if (c.fixes == 0) {
    // The first known position: nothing to continue from yet.
    c.fixes = 1;
    c.last_position = f.position;
    c.last_progress_m = c.start_progress_m = c.min_progress_m = f.progress_m;
    c.last_eph_m = f.eph_m;
    c.path_m = c.unseen_s = 0;
    return;
  }
  if (Follows(*c.last_position, c.last_progress_m, c.last_eph_m, c.path_m, c.unseen_s, f)) {
    Continue(c, f);
    return;
  }
  if (c.candidate_position &&
      Follows(*c.candidate_position, c.candidate_progress_m, c.candidate_eph_m, c.candidate_path_m,
              c.candidate_unseen_s, f)) {
    // Two fixes agree on the new place: the vehicle is there (a gap, or a leg the route
    // revisits); the chain starts again from the first of them.
    c.fixes = 1;
    c.start_progress_m = c.min_progress_m = c.candidate_progress_m;
    Continue(c, f);
    return;
  }
  c.candidate_position = f.position;
  c.candidate_progress_m = f.progress_m;
  c.candidate_eph_m = f.eph_m;
  c.candidate_path_m = c.candidate_unseen_s = 0;
}

bool TrackPassed(const ProgressChainState& c, const FixContext& f, double mark_m, double margin_m) {
  if (!f.progress_continuous || f.progress_m <= mark_m + margin_m) return false;
  if (c.min_progress_m <= mark_m) return true;
  return ChainUnderWay(c, f);
}

bool ChainUnderWay(const ProgressChainState& c, const FixContext& f) {
  return f.progress_continuous && c.fixes >= kUnderWayFixes &&
         f.progress_m - c.start_progress_m >= kUnderWayForwardM;
}

}  // namespace cit::dispatch
