// RunSummary (ListRuns' default view): a run without its route text and stop polygons, every
// other field whole.
#include "dispatch-server/plans/run_summary.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace cit::dispatch {
namespace {

cit::v1::Run FullRun() {
  cit::v1::Run run;
  run.set_state(cit::v1::RUN_STATE_ACTIVE);
  run.set_version(3);
  run.mutable_created_time()->set_seconds(1);
  run.mutable_dispatched_time()->set_seconds(2);
  run.mutable_started_time()->set_seconds(3);
  run.mutable_ended_time()->set_seconds(4);
  run.set_created_by("carol");
  run.set_dispatched_by("dave");
  run.set_ended_by("erin");
  run.set_end_comment("done");
  cit::v1::RunPlan* p = run.mutable_plan();
  p->set_run_id("R-1");
  p->set_vehicle_id("CIT-1");
  p->add_crew_badges("B-1");
  p->mutable_route()->set_geojson(std::string(1 << 20, ' '));
  p->mutable_route()->set_gpx("<gpx/>");
  p->mutable_route()->set_encoded_polyline("_p~iF~ps|U");
  p->mutable_route()->set_encoded_polyline_precision(6);
  p->mutable_route()->add_points()->set_lat_deg(47.0);
  p->mutable_route()->set_corridor_half_width_m(80);
  cit::v1::Stop* s = p->add_stops();
  s->set_stop_id("S1");
  s->set_name("Vault");
  s->mutable_position()->set_lat_deg(47.1);
  s->set_radius_m(40);
  s->mutable_polygon()->add_exterior()->set_lat_deg(47.2);
  s->mutable_arrival_earliest()->set_seconds(5);
  s->mutable_arrival_latest()->set_seconds(6);
  s->set_max_dwell_s(600);
  s->set_doors_may_open(true);
  s->set_seal_may_break(true);
  s->set_crew_check_in_required(true);
  p->mutable_limits()->set_max_speed_mps(25);
  p->mutable_planned_start()->set_seconds(7);
  p->mutable_planned_end()->set_seconds(8);
  p->set_notes("cash for the branch");
  return run;
}

TEST(RunSummaryTest, DropsOnlyRouteTextAndPolygons) {
  const cit::v1::Run run = FullRun();
  cit::v1::Run expected = run;
  const double half_width = expected.plan().route().corridor_half_width_m();
  expected.mutable_plan()->clear_route();
  expected.mutable_plan()->mutable_route()->set_corridor_half_width_m(half_width);
  expected.mutable_plan()->mutable_stops(0)->clear_polygon();
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(expected, RunSummary(run))) << diff;
  EXPECT_LT(RunSummary(run).ByteSizeLong(), 300u);
}

// RunSummary copies field by field: a field added to Run, RunPlan or Stop must be added there
// too (and here), or summaries would silently lose it.
TEST(RunSummaryTest, KnowsEveryFieldOfRunRunPlanAndStop) {
  const std::set<std::string> known = {
      // Run
      "plan", "state", "version", "created_time", "dispatched_time", "started_time", "ended_time",
      "created_by", "dispatched_by", "ended_by", "end_comment",
      // RunPlan
      "run_id", "vehicle_id", "crew_badges", "route", "stops", "limits", "planned_start",
      "planned_end", "notes",
      // Stop
      "stop_id", "name", "position", "radius_m", "polygon", "arrival_earliest", "arrival_latest",
      "max_dwell_s", "doors_may_open", "seal_may_break", "crew_check_in_required"};
  for (const google::protobuf::Descriptor* d :
       {cit::v1::Run::descriptor(), cit::v1::RunPlan::descriptor(), cit::v1::Stop::descriptor()}) {
    for (int i = 0; i < d->field_count(); ++i) {
      EXPECT_EQ(known.count(d->field(i)->name()), 1u)
          << d->name() << "." << d->field(i)->name() << ": add it to RunSummary";
    }
  }
}

}  // namespace
}  // namespace cit::dispatch
