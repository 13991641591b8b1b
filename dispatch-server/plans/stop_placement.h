// Checks that every stop of a compiled plan lies near its route, and says why when not.
//
// A stop farther from the route's centre-line than Route.max_stop_distance_m (default 1,000 m)
// can never be judged (the truck is off route whenever it is at the stop), and in practice it
// is a data mistake: latitude and longitude swapped in the stop, or in the route file (GeoJSON
// and route.points are [lon, lat], people often write [lat, lon]), or the wrong route file.
// Each far stop is reported with its distance and, when swapping its coordinates would put it
// near the route, that diagnosis; when every stop is far and every swapped stop is near, the
// route is the likelier culprit and the message says so.
//
//   std::vector<std::string> p = StopPlacementProblems(*compiled);
//   // "stops[1].position: 5012.3 km from the route (at most 1000 m); with latitude and
//   //  longitude swapped it would be 12 m from it: swapped coordinates?"
//
// Only new and updated plans are checked (RunManager); stored plans compile as they are.
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_SERVER_PLANS_STOP_PLACEMENT_H_
#define CIT_DISPATCH_SERVER_PLANS_STOP_PLACEMENT_H_

#include <string>
#include <vector>

#include "dispatch-server/plans/compiled_run.h"

namespace cit::dispatch {

// "field: problem" lines (the form of PlanProblems), empty when every stop is near the route.
std::vector<std::string> StopPlacementProblems(const CompiledRun& run);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANS_STOP_PLACEMENT_H_
