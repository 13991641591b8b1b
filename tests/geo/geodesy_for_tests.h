// Geodesic helpers shared by the geo tests: PROJ's geodesic (Karney) as the ground truth.
#ifndef CIT_TESTS_GEO_GEODESY_FOR_TESTS_H_
#define CIT_TESTS_GEO_GEODESY_FOR_TESTS_H_

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "geo/lon_lat.h"
#include "geo/proj_library.h"

namespace cit::geo::testing {

inline LonLat Ll(double lon, double lat) { return *LonLat::Create(Longitude{lon}, Latitude{lat}); }

inline double Wrap(double lon) {
  lon = std::remainder(lon, 360.0);
  return lon >= 180.0 ? lon - 360.0 : lon;
}

// The point `distance_m` from `from` along azimuth `azi_deg`.
inline LonLat Direct(LonLat from, double azi_deg, double distance_m) {
  double lat = 0, lon = 0;
  geo::LoadedProj().geodesic_direct(&geo::Wgs84Geodesic(), from.lat_deg(), from.lon_deg(), azi_deg,
                                    distance_m, &lat, &lon, nullptr);
  return Ll(Wrap(lon), lat);
}

// Geodesic distance; azimuth at `a` towards `b` in *azi1 when given.
inline double Inverse(LonLat a, LonLat b, double* azi1 = nullptr) {
  double s12 = 0, a1 = 0;
  geo::LoadedProj().geodesic_inverse(&geo::Wgs84Geodesic(), a.lat_deg(), a.lon_deg(), b.lat_deg(),
                                     b.lon_deg(), &s12, &a1, nullptr);
  if (azi1 != nullptr) *azi1 = a1;
  return s12;
}

// Distance from q to the geodesic segment a-b: golden-section search along the segment (the
// distance is unimodal along a short geodesic).
inline double DistanceToGeodesicSegment(LonLat q, LonLat a, LonLat b) {
  double azi = 0;
  const double len = Inverse(a, b, &azi);
  auto f = [&](double s) { return Inverse(q, Direct(a, azi, s)); };
  double lo = 0, hi = len;
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
  double f1 = f(x1), f2 = f(x2);
  while (hi - lo > 1e-3) {
    if (f1 < f2) {
      hi = x2, x2 = x1, f2 = f1, x1 = hi - phi * (hi - lo), f1 = f(x1);
    } else {
      lo = x1, x1 = x2, f1 = f2, x2 = lo + phi * (hi - lo), f2 = f(x2);
    }
  }
  return std::min({f1, f2, f(0), f(len)});
}

// Ground-truth distance from q to a polyline of geodesic segments.
inline double DistanceToRoute(LonLat q, const std::vector<LonLat>& route) {
  std::vector<double> to_vertex(route.size());
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < route.size(); ++i) {
    to_vertex[i] = Inverse(q, route[i]);
    best = std::min(best, to_vertex[i]);
  }
  for (std::size_t i = 0; i + 1 < route.size(); ++i) {
    const double len = Inverse(route[i], route[i + 1]);
    // Triangle inequality: no point of the segment is closer than this.
    if ((to_vertex[i] + to_vertex[i + 1] - len) / 2 > best) continue;
    best = std::min(best, DistanceToGeodesicSegment(q, route[i], route[i + 1]));
  }
  return best;
}

// A city-like route: `vertices` points 100 m apart, heading wandering by ~12 degrees a step.
inline std::vector<LonLat> RandomWalkRoute(LonLat start, int vertices, unsigned seed,
                                           double step_m = 100.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> turn(0.0, 12.0);
  std::vector<LonLat> route{start};
  double heading = 70.0;
  while (static_cast<int>(route.size()) < vertices) {
    heading += turn(rng);
    route.push_back(Direct(route.back(), heading, step_m));
  }
  return route;
}

}  // namespace cit::geo::testing

#endif  // CIT_TESTS_GEO_GEODESY_FOR_TESTS_H_
