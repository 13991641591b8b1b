#include "dispatch-server/audit/run_report.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace cit::dispatch {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr double kEarthRadiusM = 6371008.8;
constexpr double kDegToRad = M_PI / 180.0;
constexpr double kDefaultHalfWidthM = 150.0;

bool IsSet(const Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

double Seconds(const Timestamp& from, const Timestamp& to) {
  return static_cast<double>(TimeUtil::DurationToNanoseconds(to - from)) / 1e9;
}

cit::v1::Position FixPosition(const cit::v1::Fix& fix) {
  cit::v1::Position p;
  p.set_lat_deg(fix.lat_deg());
  p.set_lon_deg(fix.lon_deg());
  return p;
}

// Flat local frame (metres) around an origin: within a city the error is far below a fix's.
struct LocalFrame {
  double lat0_rad;
  double lon0_rad;
  double cos_lat0;
  explicit LocalFrame(const cit::v1::Position& origin)
      : lat0_rad(origin.lat_deg() * kDegToRad),
        lon0_rad(origin.lon_deg() * kDegToRad),
        cos_lat0(std::cos(origin.lat_deg() * kDegToRad)) {}
  std::pair<double, double> ToXY(const cit::v1::Position& p) const {
    return {(p.lon_deg() * kDegToRad - lon0_rad) * cos_lat0 * kEarthRadiusM,
            (p.lat_deg() * kDegToRad - lat0_rad) * kEarthRadiusM};
  }
};

double DistanceToPolylineM(const LocalFrame& frame,
                           const std::vector<std::pair<double, double>>& line,
                           const cit::v1::Position& p) {
  auto [px, py] = frame.ToXY(p);
  if (line.size() == 1) return std::hypot(px - line[0].first, py - line[0].second);
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    auto [ax, ay] = line[i];
    auto [bx, by] = line[i + 1];
    double dx = bx - ax;
    double dy = by - ay;
    double len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? std::clamp(((px - ax) * dx + (py - ay) * dy) / len2, 0.0, 1.0) : 0.0;
    best = std::min(best, std::hypot(px - (ax + t * dx), py - (ay + t * dy)));
  }
  return best;
}

bool InRing(const std::vector<std::pair<double, double>>& ring, double x, double y) {
  bool inside = false;
  for (std::size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
    auto [xi, yi] = ring[i];
    auto [xj, yj] = ring[j];
    if (((yi > y) != (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi) + xi)) inside = !inside;
  }
  return inside;
}

bool InStopZone(const cit::v1::Stop& stop, const cit::v1::Position& p) {
  if (stop.polygon().exterior_size() >= 3) {
    LocalFrame frame(stop.polygon().exterior(0));
    auto ring_xy = [&](const auto& points) {
      std::vector<std::pair<double, double>> out;
      for (const auto& q : points) out.push_back(frame.ToXY(q));
      return out;
    };
    auto [x, y] = frame.ToXY(p);
    if (!InRing(ring_xy(stop.polygon().exterior()), x, y)) return false;
    for (const auto& hole : stop.polygon().holes()) {
      if (hole.points_size() >= 3 && InRing(ring_xy(hole.points()), x, y)) return false;
    }
    return true;
  }
  return HaversineM(stop.position(), p) <= stop.radius_m();
}

bool Ended(const cit::v1::Run& run) {
  return run.state() == cit::v1::RUN_STATE_COMPLETED || run.state() == cit::v1::RUN_STATE_ABORTED;
}

}  // namespace

double HaversineM(const cit::v1::Position& a, const cit::v1::Position& b) {
  double lat1 = a.lat_deg() * kDegToRad;
  double lat2 = b.lat_deg() * kDegToRad;
  double dlat = lat2 - lat1;
  double dlon = (b.lon_deg() - a.lon_deg()) * kDegToRad;
  double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1) * std::cos(lat2) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(h)));
}

std::pair<std::optional<Timestamp>, std::optional<Timestamp>> RunWindow(const cit::v1::Run& run) {
  std::optional<Timestamp> from;
  if (IsSet(run.plan().planned_start())) {
    from = run.plan().planned_start();
  } else if (IsSet(run.dispatched_time())) {
    from = run.dispatched_time();
  } else if (IsSet(run.created_time())) {
    from = run.created_time();
  }
  std::optional<Timestamp> to;
  if (Ended(run) && IsSet(run.ended_time())) to = run.ended_time();
  // A run planned to start before it was dispatched still owns records from its dispatch on.
  if (from && IsSet(run.dispatched_time()) && run.dispatched_time() < *from) {
    from = run.dispatched_time();
  }
  return {from, to};
}

cit::v1::RunReport BuildRunReport(const cit::v1::Run& run,
                                  const std::vector<cit::v1::StoredRecord>& records,
                                  std::vector<cit::v1::Alert> alerts) {
  cit::v1::RunReport report;
  *report.mutable_run() = run;
  const cit::v1::RunPlan& plan = run.plan();

  // Planned route in a local frame.
  std::vector<std::pair<double, double>> route_xy;
  std::optional<LocalFrame> frame;
  if (plan.route().points_size() > 0) {
    frame.emplace(plan.route().points(0));
    for (const auto& p : plan.route().points()) route_xy.push_back(frame->ToXY(p));
    double planned = 0;
    for (int i = 1; i < plan.route().points_size(); ++i) {
      planned += HaversineM(plan.route().points(i - 1), plan.route().points(i));
    }
    report.set_planned_distance_m(planned);
  }
  const double half_width_m = plan.route().corridor_half_width_m() > 0
                                  ? plan.route().corridor_half_width_m()
                                  : kDefaultHalfWidthM;

  struct Visit {
    std::optional<Timestamp> arrived;
    std::optional<Timestamp> departed;
    std::optional<Timestamp> last_inside;
    std::uint32_t door_openings = 0;
  };
  std::vector<Visit> visits(plan.stops_size());
  std::vector<bool> inside(plan.stops_size(), false);

  const cit::v1::Fix* prev_fix = nullptr;
  const Timestamp* prev_time = nullptr;
  bool prev_off = false;
  for (const cit::v1::StoredRecord& stored : records) {
    const cit::v1::Record& r = stored.record();
    if (r.has_door()) {
      report.set_door_events(report.door_events() + 1);
      if (r.door().state() == cit::v1::DOOR_STATE_OPEN) {
        for (int s = 0; s < plan.stops_size(); ++s) {
          if (inside[s]) ++visits[s].door_openings;
        }
      }
      continue;
    }
    if (!r.has_fix() || r.fix().mode() < cit::v1::FIX_MODE_2D) continue;
    const cit::v1::Fix& fix = r.fix();
    if (!std::isfinite(fix.lat_deg()) || !std::isfinite(fix.lon_deg())) continue;
    const cit::v1::Position pos = FixPosition(fix);
    report.set_fixes(report.fixes() + 1);
    if (report.fixes() == 1) *report.mutable_first_fix_time() = r.event_time();
    *report.mutable_last_fix_time() = r.event_time();

    bool off = false;
    if (frame) off = DistanceToPolylineM(*frame, route_xy, pos) > half_width_m;
    if (prev_fix != nullptr) {
      const double step_m = HaversineM(FixPosition(*prev_fix), pos);
      report.set_distance_m(report.distance_m() + step_m);
      // A step counts as off route when it ends outside the corridor or starts outside it.
      if (off || prev_off) {
        report.set_off_route_s(report.off_route_s() + Seconds(*prev_time, r.event_time()));
        report.set_off_route_distance_m(report.off_route_distance_m() + step_m);
      }
    }
    prev_fix = &fix;
    prev_time = &r.event_time();
    prev_off = off;

    for (int s = 0; s < plan.stops_size(); ++s) {
      const bool in = InStopZone(plan.stops(s), pos);
      Visit& v = visits[s];
      if (in && !v.arrived) v.arrived = r.event_time();
      if (in && v.arrived && !v.departed) v.last_inside = r.event_time();
      if (!in && inside[s] && v.arrived && !v.departed) v.departed = r.event_time();
      inside[s] = in && !v.departed;
    }
  }

  for (int s = 0; s < plan.stops_size(); ++s) {
    const cit::v1::Stop& stop = plan.stops(s);
    const Visit& v = visits[s];
    cit::v1::StopReport* sr = report.add_stops();
    sr->set_stop_id(stop.stop_id());
    sr->set_name(stop.name());
    *sr->mutable_arrival_earliest() = stop.arrival_earliest();
    *sr->mutable_arrival_latest() = stop.arrival_latest();
    sr->set_door_openings(v.door_openings);
    if (v.arrived) {
      *sr->mutable_arrived() = *v.arrived;
      if (v.departed) {
        *sr->mutable_departed() = *v.departed;
        sr->set_dwell_s(Seconds(*v.arrived, *v.departed));
        sr->set_status(cit::v1::STOP_STATUS_DEPARTED);
      } else {
        sr->set_dwell_s(Seconds(*v.arrived, v.last_inside.value_or(*v.arrived)));
        sr->set_status(cit::v1::STOP_STATUS_ARRIVED);
      }
      sr->set_early(IsSet(stop.arrival_earliest()) && *v.arrived < stop.arrival_earliest());
      sr->set_late(IsSet(stop.arrival_latest()) && *v.arrived > stop.arrival_latest());
      for (int e = 0; e < s; ++e) {
        // An earlier-planned stop reached after this one: this one was taken out of order.
        if (visits[e].arrived && *visits[e].arrived > *v.arrived) sr->set_out_of_order(true);
      }
    } else {
      bool later_visited = false;
      for (int e = s + 1; e < plan.stops_size(); ++e)
        later_visited |= visits[e].arrived.has_value();
      if (run.state() == cit::v1::RUN_STATE_ABORTED && !later_visited) {
        sr->set_status(cit::v1::STOP_STATUS_SKIPPED);
      } else if (later_visited || Ended(run)) {
        sr->set_status(cit::v1::STOP_STATUS_MISSED);
      } else {
        sr->set_status(cit::v1::STOP_STATUS_PENDING);
      }
      sr->set_late(IsSet(stop.arrival_latest()) && report.fixes() > 0 &&
                   report.last_fix_time() > stop.arrival_latest());
    }
  }

  std::sort(alerts.begin(), alerts.end(),
            [](const auto& a, const auto& b) { return a.alert_id() < b.alert_id(); });
  for (auto& a : alerts) *report.add_alerts() = std::move(a);
  return report;
}

}  // namespace cit::dispatch
