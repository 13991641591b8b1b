#include "tests/support/real_drives.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace cit::test {

std::string KubickaFile(const std::string& id, const std::string& extension) {
  return "traces/kubicka-map-matching/" + id + "/" + id + extension;
}

std::vector<TracePoint> KubickaTrack(const std::string& id) {
  std::ifstream in(SharedData(KubickaFile(id, ".track")));
  std::vector<TracePoint> out;
  double lon = 0, lat = 0, t = 0;
  while (in >> lon >> lat >> t) out.push_back({lon, lat, t});  // lon lat (SOURCES.md)
  return out;
}

std::vector<LatLon> KubickaRoute(const std::string& id) {
  std::ifstream in(SharedData(KubickaFile(id, ".route_polyline.csv")));
  std::string line;
  std::getline(in, line);  // seq,lat,lon
  std::vector<LatLon> out;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string seq, lat, lon;
    std::getline(fields, seq, ',');
    std::getline(fields, lat, ',');
    std::getline(fields, lon, ',');
    out.push_back({std::stod(lat), std::stod(lon)});
  }
  return out;
}

std::vector<TracePoint> MunichTrack() {
  std::ifstream in(RepoData("traces/barefoot-munich/x0001-001.json"));
  const nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<TracePoint> out;
  for (const auto& e : doc) {
    const std::string point = e.at("point");  // POINT(lon lat)
    const std::string time = e.at("time");    // 2014-09-10 06:54:07+0200
    double lon = 0, lat = 0;
    std::sscanf(point.c_str(), "POINT(%lf %lf)", &lon, &lat);
    int hh = 0, mm = 0, ss = 0;
    std::sscanf(time.c_str() + 11, "%d:%d:%d", &hh, &mm, &ss);
    out.push_back({lon, lat, hh * 3600.0 + mm * 60.0 + ss});
  }
  for (size_t i = 1; i < out.size(); ++i) out[i].t_s -= out[0].t_s;
  if (!out.empty()) out[0].t_s = 0;
  return out;
}

double DistanceM(const TracePoint& a, const TracePoint& b) {
  const double dx = (a.lon_deg - b.lon_deg) * 111'132.0 * std::cos(a.lat_deg * M_PI / 180);
  const double dy = (a.lat_deg - b.lat_deg) * 111'132.0;
  return std::hypot(dx, dy);
}

std::vector<Standstill> Standstills(const std::vector<TracePoint>& track, double radius_m,
                                    double min_s) {
  std::vector<Standstill> out;
  for (size_t i = 0; i < track.size();) {
    size_t j = i;
    while (j + 1 < track.size() && DistanceM(track[i], track[j + 1]) < radius_m) ++j;
    if (track[j].t_s - track[i].t_s >= min_s) out.push_back({i, j});
    i = j + 1;
  }
  return out;
}

}  // namespace cit::test
