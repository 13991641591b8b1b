#include "dispatch-server/plans/stop_placement.h"

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dispatch-server/plans/plan_validation.h"

namespace cit::dispatch {
namespace {

// "12 m", "3.4 km", "5012 km": the size of the mistake at a glance.
std::string Distance(double m) {
  if (!std::isfinite(m)) return "very far";
  if (m < 10'000) return absl::StrFormat("%.0f m", m);
  if (m < 100'000) return absl::StrFormat("%.1f km", m / 1000);
  return absl::StrFormat("%.0f km", m / 1000);
}

// Distance from the route of the stop's centre with latitude and longitude exchanged, when
// that is still a valid position.
std::optional<double> SwappedDistance(const CompiledRun& run, const CompiledStop& stop) {
  absl::StatusOr<geo::LonLat> swapped = geo::LonLat::Create(geo::Longitude{stop.centre.lat_deg()},
                                                            geo::Latitude{stop.centre.lon_deg()});
  if (!swapped.ok()) return std::nullopt;
  const double d = run.corridor->Locate(*swapped).distance_m;
  return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

}  // namespace

std::vector<std::string> StopPlacementProblems(const CompiledRun& run) {
  std::vector<std::string> out;
  if (!run.corridor || run.stops.empty()) return out;
  const double set = run.run.plan().route().max_stop_distance_m();
  const double limit = set > 0 ? set : kDefaultMaxStopDistanceM;
  size_t far = 0;
  size_t near_when_swapped = 0;
  std::vector<std::string> lines;
  for (size_t i = 0; i < run.stops.size(); ++i) {
    const CompiledStop& stop = run.stops[i];
    if (std::isfinite(stop.offset_m) && stop.offset_m <= limit) continue;
    ++far;
    const std::optional<double> swapped = SwappedDistance(run, stop);
    const bool swap_fits = swapped && *swapped <= limit;
    near_when_swapped += swap_fits ? 1 : 0;
    std::string line =
        absl::StrCat("stops[", i, "] (", stop.stop_id, "): ", Distance(stop.offset_m),
                     " from the route (at most ", Distance(limit), ", route.max_stop_distance_m)");
    if (swap_fits) {
      absl::StrAppend(&line, "; with latitude and longitude swapped it would be ",
                      Distance(*swapped), " from it: swapped coordinates?");
    } else {
      absl::StrAppend(&line, ": check the stop's position and the route");
    }
    lines.push_back(std::move(line));
  }
  if (far == run.stops.size() && near_when_swapped == far && far > 1) {
    out.push_back(absl::StrCat(
        "route: every stop lies far from the route, and every one would lie on it with latitude "
        "and longitude swapped: the route's coordinates are probably in [lat, lon] order "
        "(GeoJSON and route.points are [lon, lat]), or every stop's are"));
  }
  for (std::string& l : lines) out.push_back(std::move(l));
  return out;
}

}  // namespace cit::dispatch
