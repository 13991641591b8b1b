// Per-vehicle run state that the monitor keeps and the rules read and update: the decoded fix
// and what the monitor derived from it (corridor match, stop zone, speed), the stop state
// machine, motion and GNSS state, and each rule's own small state block.
//
//   VehicleState& v = ...;             // owned by the Monitor, one per vehicle
//   FixContext f = ...;                // filled by the monitor for each usable fix
//   RouteDeviationRule::OnFix(v, f, policy.deviation, sink);
//
// Everything here is plain data with fixed size per vehicle (the stop vector is sized once per
// run), so evaluating a fix allocates nothing.
//
// Thread contract: owned and touched only by the monitor thread.
#ifndef CIT_DISPATCH_SERVER_RULES_VEHICLE_STATE_H_
#define CIT_DISPATCH_SERVER_RULES_VEHICLE_STATE_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/alerts/alert_signal.h"
#include "dispatch-server/alerts/replay_gate.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/common/timer_wheel.h"
#include "dispatch-server/plans/compiled_run.h"
#include "dispatch-server/plans/run_limits.h"
#include "geo/corridor.h"
#include "geo/lon_lat.h"

namespace cit::dispatch {

// Distance between two nearby points, metres (local equirectangular; < 0.1 % error below a few
// kilometres, which is all the motion and plausibility checks compare).
inline double ApproxDistanceM(geo::LonLat a, geo::LonLat b) {
  constexpr double kMPerDegLat = 111'132.0;
  constexpr double kDegToRad = 0.017453292519943295;
  const double mean_lat = 0.5 * (a.lat_deg() + b.lat_deg()) * kDegToRad;
  double dlon = a.lon_deg() - b.lon_deg();
  if (dlon > 180) dlon -= 360;
  if (dlon < -180) dlon += 360;
  const double dx = dlon * kMPerDegLat * std::cos(mean_lat);
  const double dy = (a.lat_deg() - b.lat_deg()) * kMPerDegLat;
  return std::sqrt(dx * dx + dy * dy);
}

inline LatLon ToLatLon(geo::LonLat p) { return LatLon{p.lat_deg(), p.lon_deg()}; }

// One usable fix (mode >= 2, finite position) with what the monitor derived from it.
struct FixContext {
  explicit FixContext(geo::LonLat p) : position(p) {}
  SysTime event_time{};
  uint64_t seq = 0;
  geo::LonLat position;
  double eph_m = 0;                 // reported horizontal error (0 when absent)
  double reported_speed_mps = NAN;  // NaN when the receiver gave none
  double eps_mps = 0;               // reported speed error (0 when absent)
  uint32_t jam_indicator = 0;
  bool has_jam_indicator = false;
  // Speed used by the rules: reported, else derived from the last distinct position; NaN while
  // the position is frozen (identical coordinates repeated: no motion information).
  double speed_mps = NAN;
  // Seconds since the previous usable fix (0 for the first).
  double dt_s = 0;
  // Corridor match (only when the vehicle has a live run).
  bool on_run = false;
  double distance_m = 0;
  double progress_m = 0;
  // Stop zone holding the fix, -1 for none.
  int stop_index = -1;
  // The fix continues a chain of on-corridor fixes whose progress follows from the previous
  // known position (rules/route_progress.h): only such fixes may pass stops or move the
  // furthest progress, so one stray fix matched on another leg of the route cannot.
  bool progress_continuous = false;
  // The receiver repeats the position of a moving vehicle (monitor/motion.h): the fix carries
  // no usable position information, for GNSS_LOST it counts as no fix.
  bool frozen_while_moving = false;
};

enum class StopStatus : uint8_t { kPending, kArrived, kDeparted, kSkipped, kMissed };

struct StopTrack {
  StopStatus status = StopStatus::kPending;
  SysTime arrived{};
  SysTime departed{};
  uint8_t outside_fixes = 0;  // consecutive fixes outside the zone while arrived
  bool late = false;
  bool early = false;
  bool out_of_order = false;
  bool dwell_alerted = false;
  bool late_alerted = false;
  bool missed_alerted = false;
  uint32_t door_openings = 0;
};

// Moving / stopped, with hysteresis and frozen-position handling (monitor/motion.cc).
struct MotionState {
  bool moving = false;
  std::optional<SysTime> stopped_since;
  std::optional<geo::LonLat> stop_anchor;
  uint8_t fast_fixes = 0;
  // Last distinct position and when it was first reported (a frozen receiver repeats it).
  std::optional<geo::LonLat> last_distinct;
  SysTime last_distinct_time{};
  bool frozen = false;
  SysTime frozen_since{};
  // Speed at the last distinct position (NaN when unknown), and whether the current freeze
  // began at a speed no vehicle can shed before the first repeated fix (a tunnel, jamming or
  // spoofing rather than a receiver pinning a standing vehicle's position).
  double last_distinct_speed_mps = NAN;
  bool frozen_while_moving = false;
};

// Continuity of progress along the route (rules/route_progress.h): the chain of on-corridor
// fixes whose each step follows from the one before.
struct ProgressChainState {
  uint32_t fixes = 0;  // fixes in the current chain (0: none yet)
  std::optional<geo::LonLat> last_position;
  double last_progress_m = 0;
  double last_eph_m = 0;
  double start_progress_m = 0;  // where the chain began
  double min_progress_m = 0;    // lowest progress along the chain
  // A fix that did not continue the chain: a new chain starts from it if the next fix
  // continues it (a real jump), else it was a stray fix and is forgotten.
  std::optional<geo::LonLat> candidate_position;
  double candidate_progress_m = 0;
  double candidate_eph_m = 0;
  // The path the vehicle was seen to drive (every fix, on the corridor or not) since the
  // chain's last fix and since the candidate, and the time it was not seen (gaps between
  // fixes beyond a few seconds): how far along the route it can have got meanwhile.
  std::optional<geo::LonLat> path_last;
  SysTime path_last_time{};
  double path_m = 0;
  double unseen_s = 0;
  double candidate_path_m = 0;
  double candidate_unseen_s = 0;
};

// ---- per-rule state (one block per rule file under rules/) ----------------------------------
struct DeviationState {
  uint32_t off_fixes = 0;
  SysTime off_since{};
  double max_distance_m = 0;
  uint32_t in_fixes = 0;
  bool active = false;
  bool critical = false;
  uint32_t escalation_step = 0;  // escalation steps crossed by max_distance_m (RulePolicy)
};
struct WrongDirectionState {
  bool has_max = false;
  double max_progress_m = 0;
  double last_progress_m = 0;
  uint32_t back_fixes = 0;
  uint32_t forward_fixes = 0;
  bool active = false;
};
struct UnscheduledStopState {
  bool active = false;
};
struct OverspeedState {
  uint32_t over_fixes = 0;
  SysTime over_since{};
  double max_speed_mps = 0;
  uint32_t ok_fixes = 0;
  bool active = false;
};
struct ImplausibleState {
  std::optional<geo::LonLat> last_position;
  SysTime last_time{};
  double last_eph_m = 0;
  double last_speed_mps = NAN;
  uint32_t plausible_fixes = 0;
  bool active = false;
  uint32_t jam_ok_fixes = 0;
  bool jam_active = false;
};
struct GnssLostState {
  bool lost = false;
  bool frozen = false;          // the loss is a frozen position, not a missing fix
  SysTime lost_since{};         // event time
  SysTime lost_since_server{};  // server clock, for the deadline
  bool active = false;
  TimerWheel::TimerId timer = 0;
};
struct CommsLostState {
  SysTime last_seen_server{};
  bool active = false;
  TimerWheel::TimerId timer = 0;
};
struct MovedWithoutRunState {
  std::optional<geo::LonLat> anchor;
  bool active = false;
};
struct CrewState {
  std::vector<std::string> on_board;  // badge ids checked in (small; changes only on crew events)
  bool active = false;
  std::string subject;
};

// Timer tags (TimerWheel::Expired::tag).
enum TimerTag : uint32_t {
  kTimerComms = 0,
  kTimerGnss = 1,
  kTimerWindow = 2,  // next arrival_latest or missed deadline of a pending stop
  kTimerDwell = 3,
  kTimerDoor = 4,  // judge door events that jumped the queue even if the records before never come
  kTimerCount = 5,
};

struct VehicleState {
  std::string vehicle_id;
  uint32_t index = 0;  // owner id in the timer wheel

  // The live run, if any, and its stop state machine.
  std::shared_ptr<const CompiledRun> run;
  cit::v1::RunState run_state = cit::v1::RUN_STATE_UNSPECIFIED;
  std::vector<StopTrack> stops;
  int current_stop = -1;  // index of the stop whose zone the vehicle is in (arrived), -1
  int next_stop = 0;      // first stop still pending in plan order
  double progress_m = 0;
  bool has_progress = false;
  double distance_m = 0;
  // Where the last fix matched on the corridor: the next Locate starts there (same answer,
  // far less memory touched). Any value is safe, so a run change needs no reset.
  geo::Corridor::Hint corridor_hint;
  ProgressChainState progress_chain;
  RunLimits limits;  // the run's, or the defaults when there is none

  // Last usable fix and last record of any kind.
  std::optional<FixContext> last_fix;
  cit::v1::Fix last_fix_proto;
  SysTime last_fix_time{};
  SysTime last_seen_event{};
  SysTime last_seen_server{};
  bool has_seen = false;
  cit::v1::GnssState gnss_state = cit::v1::GNSS_STATE_UNSPECIFIED;
  double typical_speed_mps = 0;  // smoothed moving speed, for ETAs

  // The record being evaluated came from a backlog (server received it much later than it
  // happened): alerts it raises are marked delayed.
  bool backfill = false;
  SysTime detected_time{};
  // While a live record is evaluated: when the ingest received it (record-to-alert latency).
  std::optional<std::chrono::system_clock::time_point> record_received;

  // Doors and seals currently open / broken (bit per number 1..64).
  uint64_t doors_open = 0;
  uint64_t seals_broken = 0;
  // Highest seq evaluated in order (urgent records that jumped ahead do not count), and door
  // records that arrived ahead of older records (the agent's urgent channel during a backlog):
  // where the truck was when the door opened is only known once the records before it are in,
  // so they are judged then (or at kTimerDoor).
  uint64_t highest_seq = 0;
  std::vector<cit::v1::Record> doors_awaiting_position;

  MotionState motion;
  DeviationState deviation;
  WrongDirectionState wrong_direction;
  UnscheduledStopState unscheduled_stop;
  OverspeedState overspeed;
  ImplausibleState implausible;
  GnssLostState gnss_lost;
  CommsLostState comms;
  MovedWithoutRunState moved_without_run;
  CrewState crew;
  std::array<TimerWheel::TimerId, kTimerCount> timers{};
  // Set when the state was rebuilt after a restart (monitor/state_rebuild.h): signals already
  // in the alert store are not raised again. Dropped when the run ends.
  std::shared_ptr<ReplayGate> gate;

  bool has_live_run() const { return run != nullptr; }
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_RULES_VEHICLE_STATE_H_
