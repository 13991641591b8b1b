#include "absl/strings/str_cat.h"
#include "dispatch-server/rules/rules.h"

namespace cit::dispatch {

using rules_internal::Signal;

namespace {

void Check(VehicleState& v, SysTime t, const std::string& subject, const std::string& what,
           uint64_t seq, AlertSink& sink) {
  const size_t n = v.crew.on_board.size();
  if (n >= v.limits.min_crew) return;
  v.crew.active = true;
  v.crew.subject = subject;
  AlertSignal sig = Signal(
      cit::v1::ALERT_KIND_CREW_INCOMPLETE, cit::v1::SEVERITY_HIGH, t, subject,
      absl::StrCat(what, " with ", n, " crew checked in (", v.limits.min_crew, " required)"));
  rules_internal::AtLastFix(v, sig);
  sig.record_seq = seq;
  sink.Raise(sig);
}

}  // namespace

void CrewIncompleteRule::OnCrew(VehicleState& v, const cit::v1::Record& r, AlertSink& sink) {
  auto& board = v.crew.on_board;
  const std::string& badge = r.crew().badge_id();
  auto it = std::find(board.begin(), board.end(), badge);
  if (r.crew().action() == cit::v1::CREW_ACTION_CHECK_IN) {
    if (it == board.end()) board.push_back(badge);
  } else if (r.crew().action() == cit::v1::CREW_ACTION_CHECK_OUT) {
    if (it != board.end()) board.erase(it);
  }
  if (v.crew.active && board.size() >= v.limits.min_crew) {
    v.crew.active = false;
    sink.Clear(cit::v1::ALERT_KIND_CREW_INCOMPLETE, v.crew.subject, FromProto(r.event_time()),
               absl::StrCat(board.size(), " crew checked in"));
  }
}

void CrewIncompleteRule::OnDepartedDepot(VehicleState& v, SysTime t, AlertSink& sink) {
  Check(v, t, "departure", "left the depot", 0, sink);
}

void CrewIncompleteRule::OnDoorOpen(VehicleState& v, const cit::v1::Record& r, AlertSink& sink) {
  if (!v.has_live_run() || v.current_stop < 0) return;
  const CompiledStop& s = v.run->stops[v.current_stop];
  if (!s.crew_check_in_required) return;
  Check(v, FromProto(r.event_time()), s.stop_id,
        absl::StrCat("door ", r.door().door(), " opened at ", s.stop_id), r.seq(), sink);
}

}  // namespace cit::dispatch
