// Whether the track supports a fix's progress along the route (issue 13 §1). Corridor::Locate
// answers for one fix; a fix that touches a street the route shares further along, or the
// first fix of a run lying a few hundred metres past the first stop, gets a progress the truck
// never drove. Passing stops, leaving the depot and the furthest progress of WRONG_DIRECTION
// are decided only on fixes that continue a chain: each on-corridor fix whose progress follows
// from the previous one (the progress step is no longer than the distance driven allows).
//
//   std::optional<double> previous = ChainProgress(v.progress_chain);   // for Locate
//   ...locate, fill f.progress_m / f.distance_m...
//   NotePath(v.progress_chain, f);                                       // every fix of the run
//   if (OnCorridor(v, f)) ExtendChain(v.progress_chain, f);             // sets progress_continuous
//   if (TrackPassed(v.progress_chain, f, stop_end_m, 100)) ...          // passed the stop
//
// Thread contract: plain functions on the monitor thread's state.
#ifndef CIT_DISPATCH_SERVER_RULES_ROUTE_PROGRESS_H_
#define CIT_DISPATCH_SERVER_RULES_ROUTE_PROGRESS_H_

#include <optional>

#include "dispatch-server/rules/vehicle_state.h"

namespace cit::dispatch {

// A chain that began beyond a mark counts as under way past it after this many fixes that
// moved forward at least kUnderWayForwardM together (a truck that rejoined the route after
// a detour round a stop, or started its run past it).
inline constexpr uint32_t kUnderWayFixes = 5;
inline constexpr double kUnderWayForwardM = 100.0;

// The progress the next Locate should prefer: the chain's last, so that a stray fix matched on
// another leg does not pull the next fixes there. nullopt before the first on-corridor fix.
std::optional<double> ChainProgress(const ProgressChainState& chain);

// Adds the step to any fix of the run (on the corridor or not) to the path driven since the
// chain's last fix; call before ExtendChain.
void NotePath(ProgressChainState& chain, const FixContext& f);

// Adds an on-corridor fix: continues the chain (f.progress_continuous = true), starts a new one
// from the previous stray fix if this one continues that (a real jump, e.g. after a gap), or
// keeps the fix as a candidate (f.progress_continuous = false).
void ExtendChain(ProgressChainState& chain, FixContext& f);

// True when the track supports that the vehicle went past `mark_m` + `margin_m` along the
// route: the fix continues its chain, lies beyond, and the chain either came from at or before
// the mark (it crossed it) or has been under way forward beyond it (kUnderWayFixes).
bool TrackPassed(const ProgressChainState& chain, const FixContext& f, double mark_m,
                 double margin_m);

// True when the fix continues a chain that has been under way forward (kUnderWayFixes fixes,
// kUnderWayForwardM metres since it began).
bool ChainUnderWay(const ProgressChainState& chain, const FixContext& f);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_RULES_ROUTE_PROGRESS_H_
