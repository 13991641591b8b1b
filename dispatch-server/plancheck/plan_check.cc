#include "dispatch-server/plancheck/plan_check.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "dispatch-server/alerts/alert_manager.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/monitor/monitor.h"
#include "dispatch-server/plans/compiled_run.h"
#include "dispatch-server/plans/run_manager.h"

namespace cit::dispatch {
namespace {

cit::v1::StopStatus ToProtoStatus(StopStatus s) {
  switch (s) {
    case StopStatus::kPending:
      return cit::v1::STOP_STATUS_PENDING;
    case StopStatus::kArrived:
      return cit::v1::STOP_STATUS_ARRIVED;
    case StopStatus::kDeparted:
      return cit::v1::STOP_STATUS_DEPARTED;
    case StopStatus::kSkipped:
      return cit::v1::STOP_STATUS_SKIPPED;
    case StopStatus::kMissed:
      return cit::v1::STOP_STATUS_MISSED;
  }
  return cit::v1::STOP_STATUS_UNSPECIFIED;
}

// The per-stop timeline from the monitor's own stop state machine (the one the rules read).
void AddStops(const cit::v1::Run& run, const VehicleState& v, SysTime track_end,
              cit::v1::CheckPlanResponse& out) {
  for (int i = 0; i < run.plan().stops_size(); ++i) {
    const cit::v1::Stop& stop = run.plan().stops(i);
    cit::v1::StopReport* sr = out.add_stops();
    sr->set_stop_id(stop.stop_id());
    sr->set_name(stop.name());
    if (stop.has_arrival_earliest()) *sr->mutable_arrival_earliest() = stop.arrival_earliest();
    if (stop.has_arrival_latest()) *sr->mutable_arrival_latest() = stop.arrival_latest();
    if (static_cast<std::size_t>(i) >= v.stops.size()) {
      sr->set_status(cit::v1::STOP_STATUS_PENDING);
      continue;
    }
    const StopTrack& t = v.stops[i];
    sr->set_status(ToProtoStatus(t.status));
    sr->set_late(t.late);
    sr->set_early(t.early);
    sr->set_out_of_order(t.out_of_order);
    sr->set_door_openings(t.door_openings);
    if (t.status == StopStatus::kArrived || t.status == StopStatus::kDeparted) {
      *sr->mutable_arrived() = ToProto(t.arrived);
      const SysTime until = t.status == StopStatus::kDeparted ? t.departed : track_end;
      if (t.status == StopStatus::kDeparted) *sr->mutable_departed() = ToProto(t.departed);
      sr->set_dwell_s(std::max(0.0, Seconds(until - t.arrived)));
    }
  }
}

// Every event but UPDATED (one per fix while a condition lasts), at most kMaxCheckEvents. Each
// event's alert.detected_time is set to when that event happened on the check's clock (the fix
// time that caused it): an alert's own detected_time stays that of its first occurrence.
void AddEvents(const AlertManager& alerts, const std::map<uint64_t, SysTime>& event_times,
               cit::v1::CheckPlanResponse& out) {
  std::vector<cit::v1::AlertEvent> events;
  uint64_t cursor = 0;
  while (true) {
    std::vector<cit::v1::AlertEvent> page;
    absl::StatusOr<uint64_t> next = alerts.ReadEvents(cursor, AlertFilter{}, 10'000, &page);
    if (!next.ok() || page.empty()) break;
    cursor = *next;
    for (cit::v1::AlertEvent& e : page) {
      if (e.type() == cit::v1::ALERT_EVENT_TYPE_UPDATED) continue;
      if (static_cast<std::size_t>(out.events_size()) < kMaxCheckEvents) {
        if (auto it = event_times.find(e.event_id()); it != event_times.end()) {
          *e.mutable_alert()->mutable_detected_time() = ToProto(it->second);
        }
        *out.add_events() = std::move(e);
      } else {
        out.set_events_omitted(out.events_omitted() + 1);
      }
    }
  }
}

SysTime RecordTime(const cit::v1::Record& r) { return FromProto(r.event_time()); }

}  // namespace

absl::StatusOr<cit::v1::CheckPlanResponse> CheckPlan(const cit::v1::Run& stored_run,
                                                     std::span<const cit::v1::Record> records,
                                                     const RulePolicy& rules) {
  if (records.empty()) return absl::InvalidArgumentError("track: no records to check");
  const std::string& vehicle_id = stored_run.plan().vehicle_id();
  const SysTime first = RecordTime(records.front());
  cit::v1::Run run = stored_run;
  run.set_state(cit::v1::RUN_STATE_DISPATCHED);
  run.clear_started_time();
  run.clear_ended_time();
  *run.mutable_dispatched_time() = ToProto(first);
  if (run.version() == 0) run.set_version(1);
  absl::StatusOr<std::shared_ptr<const CompiledRun>> compiled = CompileRun(run);
  if (!compiled.ok()) return compiled.status();

  const auto started = std::chrono::steady_clock::now();
  // Starts a second before the first record, so that record is not "late" against the clock.
  FakeClock clock(first - std::chrono::seconds(1));
  AlertManager alerts(/*store=*/nullptr, &clock);
  MonitorOptions options;
  options.rules = rules;
  options.snapshot_interval_s = 0;  // nothing is stored
  Monitor monitor(&alerts, &clock, options);
  // Listeners run synchronously after each event, on this thread: note when it happened.
  std::map<uint64_t, SysTime> event_times;
  alerts.AddListener([&] { event_times.emplace(alerts.last_event_id(), clock.Now()); });
  monitor.OnRunChanged(RunChange{run, *compiled});
  monitor.RunOnce();

  cit::v1::CheckPlanResponse out;
  CommittedRecord cr{vehicle_id, {}, {}, 0};
  std::optional<SysTime> first_fix, last_fix;
  for (const cit::v1::Record& r : records) {
    const SysTime t = RecordTime(r);
    if (t > clock.Now()) {
      clock.Set(t);
      monitor.Tick();  // deadlines due by now fire before the record, as on the live clock
    }
    cr.record = r;
    cr.server_received_time =
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(clock.Now());
    monitor.Process(cr);
    if (r.has_fix()) {
      if (!first_fix) first_fix = t;
      last_fix = t;
      out.set_fixes(out.fixes() + 1);
    }
  }
  monitor.Tick();
  out.set_records(records.size());
  out.set_evaluate_s(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  std::unique_ptr<VehicleState> state = monitor.TakeVehicle(vehicle_id);
  if (state == nullptr) return absl::InternalError("plan check lost the vehicle");
  AddStops(stored_run, *state, clock.Now(), out);
  for (cit::v1::Alert& a : alerts.List(AlertFilter{})) *out.add_alerts() = std::move(a);
  AddEvents(alerts, event_times, out);
  if (first_fix) *out.mutable_first_fix_time() = ToProto(*first_fix);
  if (last_fix) *out.mutable_last_fix_time() = ToProto(*last_fix);
  out.set_plan_version(stored_run.version());
  return out;
}

}  // namespace cit::dispatch
