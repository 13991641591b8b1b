// Reads a run's plan as of one version over the operator API, for PlaceFinder (alert_place.h):
// GetRun, and when the run has moved on since the alert, GetRunHistory for the version the alert
// was raised under.
//
//   PlaceFinder places(PlanFetcher(conn));
//
// Thread contract: the fetcher only reads `conn` (stubs are thread-safe); `conn` must outlive it.
#ifndef CIT_DISPATCHCTL_PLAN_FETCH_H_
#define CIT_DISPATCHCTL_PLAN_FETCH_H_

#include "dispatchctl/alert_place.h"
#include "dispatchctl/connection.h"

namespace cit::ctl {

PlaceFinder::RunFetcher PlanFetcher(const Connection& conn);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_PLAN_FETCH_H_
