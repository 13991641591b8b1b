#include "dispatch-server/plans/run_limits.h"

namespace cit::dispatch {
namespace {

template <typename T>
void Take(T value, T& out) {
  if (value > T{0}) out = value;
}

}  // namespace

RunLimits ResolveLimits(const cit::v1::RunLimits& p) {
  RunLimits l;
  Take(p.max_speed_mps(), l.max_speed_mps);
  Take(p.unscheduled_stop_s(), l.unscheduled_stop_s);
  Take(p.gnss_loss_s(), l.gnss_loss_s);
  Take(p.comms_loss_s(), l.comms_loss_s);
  Take(p.stopped_speed_mps(), l.stopped_speed_mps);
  Take(p.implausible_speed_mps(), l.implausible_speed_mps);
  Take(p.backwards_tolerance_m(), l.backwards_tolerance_m);
  Take(p.deviation_min_s(), l.deviation_min_s);
  Take(p.deviation_min_fixes(), l.deviation_min_fixes);
  Take(p.deviation_clear_fixes(), l.deviation_clear_fixes);
  Take(p.overspeed_min_s(), l.overspeed_min_s);
  Take(p.moved_without_run_m(), l.moved_without_run_m);
  Take(p.min_crew(), l.min_crew);
  Take(p.jam_indicator_threshold(), l.jam_indicator_threshold);
  Take(p.missed_stop_grace_s(), l.missed_stop_grace_s);
  return l;
}

}  // namespace cit::dispatch
