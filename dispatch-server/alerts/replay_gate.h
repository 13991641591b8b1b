// Makes re-evaluating a vehicle's stored records after a restart idempotent towards the alerts:
// what the monitor signalled before the restart is already in the alert store, so when the same
// records are evaluated again (monitor/state_rebuild.h) each signal is matched, in order, against
// the stored alert events of the run and dropped when it is already there.
//
//   ReplayGate gate = ReplayGate::FromStoredEvents(events_of_the_runs_alerts);
//   gate.EnterReplay(/*tail_from=*/last_record_time - 10s);
//   if (gate.AdmitRaise(signal, replay_now)) alerts.Raise(...);   // Monitor's sink does this
//   gate.EnterLive();
//
// Matching is per (kind, subject) and positional: the stored events of that key, oldest first,
// are the monitor's raise/update and clear events (operator acknowledgements and resolutions are
// skipped: they are not signals). A raise consumes the next stored raise or update, a clear the
// next stored clear; a clear that found nothing stored was a no-op before too (no alert was open
// or it was already cleared) and stays one. A signal with nothing left to match is:
//   - mute (pre-dispatch warm-up): dropped; those records were judged without this run;
//   - replay, before the tail: dropped and counted as a divergence (a record evaluated before the
//     restart that did not raise it then must not raise it now: no false alert from a rebuild);
//   - replay, in the tail (the last seconds before the restart: events of records that were
//     committed but whose alert events were not yet stored when the process died) and live:
//     admitted, so nothing is missed.
// Events left unmatched after the replay came from records the old process evaluated but never
// committed (the agent resends them) or from deadlines it fired after the last stored record;
// live signals go on consuming them, so those are not raised twice either.
//
// Thread contract: owned by one vehicle's state, used only on the thread evaluating it.
#ifndef CIT_DISPATCH_SERVER_ALERTS_REPLAY_GATE_H_
#define CIT_DISPATCH_SERVER_ALERTS_REPLAY_GATE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <utility>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/alerts/alert_signal.h"
#include "dispatch-server/common/clock.h"

namespace cit::dispatch {

class ReplayGate {
 public:
  enum class Phase { kMute, kReplay, kLive };
  struct Counts {
    uint64_t matched = 0;    // signals already stored: dropped
    uint64_t diverged = 0;   // signals not stored, from records judged before: dropped
    uint64_t admitted = 0;   // signals not stored (tail or live): passed on
    uint64_t unmatched = 0;  // stored events no replayed signal matched (skipped or left over)
  };

  // `events`: every stored event of the alerts the run raised, ascending event id. Events up to
  // `accounted_through` (a snapshot's alert event id: the state already reflects them) are not
  // matched; all of them still tell later events apart (an acknowledgement after a clear).
  static ReplayGate FromStoredEvents(std::span<const cit::v1::AlertEvent> events,
                                     uint64_t accounted_through = 0);

  void EnterMute() { phase_ = Phase::kMute; }
  // Signals raised at replay time >= tail_from that are not stored are admitted.
  void EnterReplay(SysTime tail_from) {
    phase_ = Phase::kReplay;
    tail_from_ = tail_from;
  }
  void EnterLive() { phase_ = Phase::kLive; }
  Phase phase() const { return phase_; }

  // True when the signal must reach the AlertManager. `now`: the evaluating monitor's clock.
  bool AdmitRaise(const AlertSignal& signal, SysTime now);
  bool AdmitClear(cit::v1::AlertKind kind, const std::string& subject, SysTime now);

  // Stored events not matched yet.
  size_t pending() const;
  const Counts& counts() const { return counts_; }

 private:
  enum class Stored : uint8_t { kRaise, kClear };
  using Key = std::pair<int, std::string>;
  bool AdmitUnmatched(SysTime now);

  Phase phase_ = Phase::kReplay;
  SysTime tail_from_ = SysTime::max();
  std::map<Key, std::deque<Stored>> stored_;
  Counts counts_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_ALERTS_REPLAY_GATE_H_
