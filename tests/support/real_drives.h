// Real drives for tests: the Munich drive that ships in tests/data and the Kubicka drives that
// may not (read from $CIT_SHARED_DATA; guard a test with CIT_SKIP_WITHOUT_KUBICKA first).
//
//   CIT_SKIP_WITHOUT_KUBICKA("00000016");
//   std::vector<cit::test::TracePoint> track = cit::test::KubickaTrack("00000016");
//   std::vector<cit::test::LatLon> route = cit::test::KubickaRoute("00000010");
//
// Plain structs, no protocol types, so any test can use them. Thread-safe (no shared state).
#ifndef CIT_TESTS_SUPPORT_REAL_DRIVES_H_
#define CIT_TESTS_SUPPORT_REAL_DRIVES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "tests/support/test_env.h"

namespace cit::test {

struct TracePoint {
  double lon_deg;
  double lat_deg;
  double t_s;  // seconds from the trace start
};

struct LatLon {
  double lat_deg;
  double lon_deg;
};

// Path of one Kubicka file below the shared data, e.g. KubickaFile("00000010", ".track").
std::string KubickaFile(const std::string& id, const std::string& extension);

#define CIT_SKIP_WITHOUT_KUBICKA(id)                                                \
  CIT_SKIP_WITHOUT_SHARED_DATA(::cit::test::KubickaFile(id, ".route_polyline.csv"), \
                               ::cit::test::KubickaFile(id, ".track"))

// A Kubicka drive at 1 s (its `.track` is "lon lat t" per line).
std::vector<TracePoint> KubickaTrack(const std::string& id);

// A Kubicka drive's ground-truth road route (`route_polyline.csv`: seq,lat,lon).
std::vector<LatLon> KubickaRoute(const std::string& id);

// The Munich drive at 1 s (tests/data/traces/barefoot-munich/x0001-001.json), times from 0.
std::vector<TracePoint> MunichTrack();

// Where a trace stands still: maximal runs of points within `radius_m` of the run's first point
// lasting at least `min_s`, as [first, last] indices.
struct Standstill {
  size_t first;
  size_t last;
};
std::vector<Standstill> Standstills(const std::vector<TracePoint>& track, double radius_m = 30,
                                    double min_s = 120);

// Metres between two trace points (equirectangular; fine for the few kilometres of a drive).
double DistanceM(const TracePoint& a, const TracePoint& b);

}  // namespace cit::test

#endif  // CIT_TESTS_SUPPORT_REAL_DRIVES_H_
