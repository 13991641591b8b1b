#include "dispatch-server/plans/run_limits.h"

#include <limits>

namespace cit::dispatch {

RunLimits ResolveLimits(const cit::v1::RunLimits& p) {
  RunLimits l;
  // Unset keeps the default; a set value is taken as given (validation refused the zeros that
  // could only be mistakes). Plans stored before presence existed never carried a zero.
  const auto take = [](bool has, auto value, auto& out) {
    if (has) out = value;
  };
  take(p.has_unscheduled_stop_s(), p.unscheduled_stop_s(), l.unscheduled_stop_s);
  take(p.has_gnss_loss_s(), p.gnss_loss_s(), l.gnss_loss_s);
  take(p.has_comms_loss_s(), p.comms_loss_s(), l.comms_loss_s);
  take(p.has_stopped_speed_mps(), p.stopped_speed_mps(), l.stopped_speed_mps);
  take(p.has_implausible_speed_mps(), p.implausible_speed_mps(), l.implausible_speed_mps);
  take(p.has_backwards_tolerance_m(), p.backwards_tolerance_m(), l.backwards_tolerance_m);
  take(p.has_deviation_min_s(), p.deviation_min_s(), l.deviation_min_s);
  take(p.has_deviation_min_fixes(), p.deviation_min_fixes(), l.deviation_min_fixes);
  take(p.has_deviation_clear_fixes(), p.deviation_clear_fixes(), l.deviation_clear_fixes);
  take(p.has_overspeed_min_s(), p.overspeed_min_s(), l.overspeed_min_s);
  take(p.has_moved_without_run_m(), p.moved_without_run_m(), l.moved_without_run_m);
  // min_crew 0: no crew check (CREW_INCOMPLETE needs fewer than min_crew on board).
  take(p.has_min_crew(), p.min_crew(), l.min_crew);
  take(p.has_jam_indicator_threshold(), p.jam_indicator_threshold(), l.jam_indicator_threshold);
  take(p.has_missed_stop_grace_s(), p.missed_stop_grace_s(), l.missed_stop_grace_s);
  if (p.has_max_speed_mps()) {
    // 0: no speed limit on this run; no speed exceeds infinity, so OVERSPEED never fires.
    l.max_speed_mps =
        p.max_speed_mps() > 0 ? p.max_speed_mps() : std::numeric_limits<double>::infinity();
  }
  return l;
}

}  // namespace cit::dispatch
