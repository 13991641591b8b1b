#include "dispatch-server/plans/run_summary.h"

namespace cit::dispatch {

cit::v1::Run RunSummary(const cit::v1::Run& run) {
  // Field by field (a new field of Run, RunPlan or Stop must be added here: run_summary_test
  // checks that a summary differs from the run only by route and polygons).
  cit::v1::Run out;
  const cit::v1::RunPlan& p = run.plan();
  out.set_state(run.state());
  out.set_version(run.version());
  if (run.has_created_time()) *out.mutable_created_time() = run.created_time();
  if (run.has_dispatched_time()) *out.mutable_dispatched_time() = run.dispatched_time();
  if (run.has_started_time()) *out.mutable_started_time() = run.started_time();
  if (run.has_ended_time()) *out.mutable_ended_time() = run.ended_time();
  out.set_created_by(run.created_by());
  out.set_dispatched_by(run.dispatched_by());
  out.set_ended_by(run.ended_by());
  out.set_end_comment(run.end_comment());

  cit::v1::RunPlan* q = out.mutable_plan();
  q->set_run_id(p.run_id());
  q->set_vehicle_id(p.vehicle_id());
  *q->mutable_crew_badges() = p.crew_badges();
  if (p.has_route())
    q->mutable_route()->set_corridor_half_width_m(p.route().corridor_half_width_m());
  for (const cit::v1::Stop& s : p.stops()) {
    cit::v1::Stop* t = q->add_stops();
    t->set_stop_id(s.stop_id());
    t->set_name(s.name());
    if (s.has_position()) *t->mutable_position() = s.position();
    t->set_radius_m(s.radius_m());
    if (s.has_arrival_earliest()) *t->mutable_arrival_earliest() = s.arrival_earliest();
    if (s.has_arrival_latest()) *t->mutable_arrival_latest() = s.arrival_latest();
    t->set_max_dwell_s(s.max_dwell_s());
    t->set_doors_may_open(s.doors_may_open());
    t->set_seal_may_break(s.seal_may_break());
    t->set_crew_check_in_required(s.crew_check_in_required());
  }
  if (p.has_limits()) *q->mutable_limits() = p.limits();
  if (p.has_planned_start()) *q->mutable_planned_start() = p.planned_start();
  if (p.has_planned_end()) *q->mutable_planned_end() = p.planned_end();
  q->set_notes(p.notes());
  return out;
}

}  // namespace cit::dispatch
