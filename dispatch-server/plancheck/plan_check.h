// `plan check` (issue 13): a plan evaluated against a track by the server's own rule engine,
// with nothing stored or published. A private Monitor and a memory-only AlertManager (no store,
// no listeners, no metrics) judge the records exactly as the live monitor would, with a clock
// that follows the records' event times; the live monitor, the alert store, the plan log and
// the record chains are never touched, by construction.
//
//   absl::StatusOr<cit::v1::CheckPlanResponse> r = CheckPlan(run, records);
//   for (const cit::v1::Alert& a : r->alerts()) ...   // what would have been raised, and when
//   for (const cit::v1::StopReport& s : r->stops()) ...  // arrived / departed / missed
//
// The run is published as dispatched at the first record (so it turns active when the vehicle
// leaves its first stop, as a live run does); deadlines (late, missed, comms, GNSS, dwell) fire
// as the clock passes them, up to the last record. A stop still waiting when the track ends is
// reported PENDING, not missed: the track, not the vehicle, ended.
//
// Thread contract: pure function (its monitor and alert manager are local).
#ifndef CIT_DISPATCH_SERVER_PLANCHECK_PLAN_CHECK_H_
#define CIT_DISPATCH_SERVER_PLANCHECK_PLAN_CHECK_H_

#include <cstddef>
#include <span>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/rules/rule_policy.h"

namespace cit::dispatch {

// Alert events returned at most (CheckPlanResponse.events); the alerts list is always complete.
inline constexpr std::size_t kMaxCheckEvents = 5'000;

// `run`: a compiled-able run (plan validated by the caller); its state is ignored. `records`:
// the vehicle's records in seq order (any payload; the vehicle id is the plan's).
// `rules`: the server's [rules] settings, so that a check decides as the live monitor would.
absl::StatusOr<cit::v1::CheckPlanResponse> CheckPlan(const cit::v1::Run& run,
                                                     std::span<const cit::v1::Record> records,
                                                     const RulePolicy& rules = {});

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANCHECK_PLAN_CHECK_H_
