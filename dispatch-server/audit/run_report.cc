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

bool InRing(const std::vector<std::pair<double, double>>& ring, double x, double y) {
  bool inside = false;
  for (std::size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
    auto [xi, yi] = ring[i];
    auto [xj, yj] = ring[j];
    if (((yi > y) != (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi) + xi)) inside = !inside;
  }
  return inside;
}

// A stop's zone prepared once per report: a polygon's rings in its own local frame with their
// bounding box, or a circle.
struct StopZone {
  const cit::v1::Stop* stop;
  std::optional<LocalFrame> frame;  // polygon zones only
  std::vector<std::pair<double, double>> exterior;
  std::vector<std::vector<std::pair<double, double>>> holes;
  double min_x = 0, max_x = 0, min_y = 0, max_y = 0;

  explicit StopZone(const cit::v1::Stop& s) : stop(&s) {
    if (s.polygon().exterior_size() < 3) return;
    frame.emplace(s.polygon().exterior(0));
    auto ring_xy = [&](const auto& points) {
      std::vector<std::pair<double, double>> out;
      for (const auto& q : points) out.push_back(frame->ToXY(q));
      return out;
    };
    exterior = ring_xy(s.polygon().exterior());
    for (const auto& hole : s.polygon().holes()) {
      if (hole.points_size() >= 3) holes.push_back(ring_xy(hole.points()));
    }
    min_x = max_x = exterior[0].first;
    min_y = max_y = exterior[0].second;
    for (auto [x, y] : exterior) {
      min_x = std::min(min_x, x);
      max_x = std::max(max_x, x);
      min_y = std::min(min_y, y);
      max_y = std::max(max_y, y);
    }
  }

  bool Contains(const cit::v1::Position& p) const {
    if (frame) {
      auto [x, y] = frame->ToXY(p);
      // Outside the bounding box the ray test is false anyway: skip it.
      if (x < min_x || x > max_x || y < min_y || y > max_y) return false;
      if (!InRing(exterior, x, y)) return false;
      for (const auto& hole : holes) {
        if (InRing(hole, x, y)) return false;
      }
      return true;
    }
    // The great-circle distance is at least the distance along the meridian: stops far in
    // latitude are left out without the trigonometry (1 m of margin for rounding).
    const double dlat_m =
        std::abs(p.lat_deg() - stop->position().lat_deg()) * kDegToRad * kEarthRadiusM;
    if (dlat_m > stop->radius_m() + 1.0) return false;
    return HaversineM(stop->position(), p) <= stop->radius_m();
  }
};

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

struct RunReportBuilder::Geometry {
  std::optional<LocalFrame> frame;
  std::vector<std::pair<double, double>> route_xy;
  double half_width_m = kDefaultHalfWidthM;
  std::size_t near_segment = 0;  // a segment the previous fix was inside the corridor of
  std::vector<StopZone> stops;

  // Outside the corridor: further than half_width_m from every segment of the route. Squared
  // distances, and the first segment within the corridor ends the search.
  bool OffRoute(const cit::v1::Position& p) {
    if (!frame) return false;
    auto [px, py] = frame->ToXY(p);
    if (route_xy.size() == 1) {
      return std::hypot(px - route_xy[0].first, py - route_xy[0].second) > half_width_m;
    }
    const double limit2 = half_width_m * half_width_m;
    auto within = [&](std::size_t i) {
      auto [ax, ay] = route_xy[i];
      auto [bx, by] = route_xy[i + 1];
      const double dx = bx - ax;
      const double dy = by - ay;
      const double len2 = dx * dx + dy * dy;
      const double t =
          len2 > 0 ? std::clamp(((px - ax) * dx + (py - ay) * dy) / len2, 0.0, 1.0) : 0.0;
      const double ex = px - (ax + t * dx);
      const double ey = py - (ay + t * dy);
      return ex * ex + ey * ey <= limit2;
    };
    if (within(near_segment)) return false;
    for (std::size_t i = 0; i + 1 < route_xy.size(); ++i) {
      if (within(i)) {
        near_segment = i;
        return false;
      }
    }
    return true;
  }
};

struct RunReportBuilder::Visit {
  std::optional<Timestamp> arrived;
  std::optional<Timestamp> departed;
  std::optional<Timestamp> last_inside;
  std::uint32_t door_openings = 0;
};

RunReportBuilder::RunReportBuilder(const cit::v1::Run& run)
    : run_(run), geometry_(std::make_unique<Geometry>()) {
  *report_.mutable_run() = run;
  const cit::v1::RunPlan& plan = run.plan();
  // Planned route in a local frame.
  if (plan.route().points_size() > 0) {
    geometry_->frame.emplace(plan.route().points(0));
    for (const auto& p : plan.route().points()) {
      geometry_->route_xy.push_back(geometry_->frame->ToXY(p));
    }
    double planned = 0;
    for (int i = 1; i < plan.route().points_size(); ++i) {
      planned += HaversineM(plan.route().points(i - 1), plan.route().points(i));
    }
    report_.set_planned_distance_m(planned);
  }
  if (plan.route().corridor_half_width_m() > 0) {
    geometry_->half_width_m = plan.route().corridor_half_width_m();
  }
  for (const auto& stop : plan.stops()) geometry_->stops.emplace_back(stop);
  visits_.resize(plan.stops_size());
  inside_.assign(plan.stops_size(), false);
}

RunReportBuilder::~RunReportBuilder() = default;

void RunReportBuilder::Add(const cit::v1::Record& r) {
  const int stops = static_cast<int>(visits_.size());
  if (r.has_door()) {
    report_.set_door_events(report_.door_events() + 1);
    if (r.door().state() == cit::v1::DOOR_STATE_OPEN) {
      for (int s = 0; s < stops; ++s) {
        if (inside_[s]) ++visits_[s].door_openings;
      }
    }
    return;
  }
  if (!r.has_fix() || r.fix().mode() < cit::v1::FIX_MODE_2D) return;
  const cit::v1::Fix& fix = r.fix();
  if (!std::isfinite(fix.lat_deg()) || !std::isfinite(fix.lon_deg())) return;
  const cit::v1::Position pos = FixPosition(fix);
  report_.set_fixes(report_.fixes() + 1);
  if (report_.fixes() == 1) *report_.mutable_first_fix_time() = r.event_time();
  *report_.mutable_last_fix_time() = r.event_time();

  const bool off = geometry_->OffRoute(pos);
  if (have_prev_) {
    const double step_m = HaversineM(prev_pos_, pos);
    report_.set_distance_m(report_.distance_m() + step_m);
    // A step counts as off route when it ends outside the corridor or starts outside it.
    if (off || prev_off_) {
      report_.set_off_route_s(report_.off_route_s() + Seconds(prev_time_, r.event_time()));
      report_.set_off_route_distance_m(report_.off_route_distance_m() + step_m);
    }
  }
  have_prev_ = true;
  prev_pos_ = pos;
  prev_time_ = r.event_time();
  prev_off_ = off;

  for (int s = 0; s < stops; ++s) {
    const bool in = geometry_->stops[s].Contains(pos);
    Visit& v = visits_[s];
    if (in && !v.arrived) v.arrived = r.event_time();
    if (in && v.arrived && !v.departed) v.last_inside = r.event_time();
    if (!in && inside_[s] && v.arrived && !v.departed) v.departed = r.event_time();
    inside_[s] = in && !v.departed;
  }
}

cit::v1::RunReport RunReportBuilder::Finish(std::vector<cit::v1::Alert> alerts) && {
  const cit::v1::Run& run = run_;
  const cit::v1::RunPlan& plan = run.plan();
  cit::v1::RunReport& report = report_;
  for (int s = 0; s < plan.stops_size(); ++s) {
    const cit::v1::Stop& stop = plan.stops(s);
    const Visit& v = visits_[s];
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
        if (visits_[e].arrived && *visits_[e].arrived > *v.arrived) sr->set_out_of_order(true);
      }
    } else {
      bool later_visited = false;
      for (int e = s + 1; e < plan.stops_size(); ++e) {
        later_visited |= visits_[e].arrived.has_value();
      }
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
  return std::move(report);
}

cit::v1::RunReport BuildRunReport(const cit::v1::Run& run,
                                  const std::vector<cit::v1::StoredRecord>& records,
                                  std::vector<cit::v1::Alert> alerts) {
  RunReportBuilder builder(run);
  for (const cit::v1::StoredRecord& stored : records) builder.Add(stored.record());
  return std::move(builder).Finish(std::move(alerts));
}

}  // namespace cit::dispatch
