#include "dispatch-server/plans/plan_validation.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cit::dispatch {
namespace {

class Problems {
 public:
  void Add(std::string_view field, std::string_view problem) {
    std::string line(field);
    line += ": ";
    line += problem;
    out_.push_back(std::move(line));
  }
  std::vector<std::string> Take() { return std::move(out_); }

 private:
  std::vector<std::string> out_;
};

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void CheckId(Problems& p, const std::string& field, std::string_view id) {
  if (id.empty()) {
    p.Add(field, "required");
  } else if (!ValidId(id)) {
    p.Add(field, absl::StrCat("must be 1..", kMaxIdLength, " characters of [A-Za-z0-9._:-]"));
  }
}

void CheckPosition(Problems& p, const std::string& field, const cit::v1::Position& pos) {
  if (!std::isfinite(pos.lat_deg())) {
    p.Add(field + ".lat_deg", "must be finite");
  } else if (pos.lat_deg() < -90 || pos.lat_deg() > 90) {
    p.Add(field + ".lat_deg", "must be in [-90, 90]");
  }
  if (!std::isfinite(pos.lon_deg())) {
    p.Add(field + ".lon_deg", "must be finite");
  } else if (pos.lon_deg() < -180 || pos.lon_deg() > 180) {
    p.Add(field + ".lon_deg", "must be in [-180, 180]");
  }
}

// Negative or non-finite never makes sense (limits, dwell).
void CheckNonNegative(Problems& p, const std::string& field, double v) {
  if (!std::isfinite(v)) {
    p.Add(field, "must be finite");
  } else if (v < 0) {
    p.Add(field, "must be >= 0");
  }
}

// Free text that ends up in reports, GPX/CSV exports and the console: no control characters
// (XML 1.0 cannot carry most of them; terminals interpret them). Notes may keep tabs and line
// breaks.
void CheckText(Problems& p, const std::string& field, std::string_view text, bool multiline) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool allowed_space = multiline && (c == '\t' || c == '\n' || c == '\r');
    if ((c < 0x20 && !allowed_space) || c == 0x7f) {
      p.Add(field, absl::StrCat("control character 0x", absl::Hex(c, absl::kZeroPad2), " at byte ",
                                i, " is not allowed"));
      return;
    }
  }
}

bool HasTime(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

void CheckTime(Problems& p, const std::string& field, const google::protobuf::Timestamp& t) {
  if (!HasTime(t)) return;
  // 2000-01-01 .. 2200-01-01: anything outside is a unit or epoch mistake.
  if (t.seconds() < 946684800 || t.seconds() > 7258118400 || t.nanos() < 0 ||
      t.nanos() >= 1'000'000'000) {
    p.Add(field, "must be a time between 2000 and 2200");
  }
}

void CheckRoute(Problems& p, const cit::v1::Route& r) {
  const int sources = (r.points_size() > 0) + !r.geojson().empty() + !r.gpx().empty() +
                      !r.encoded_polyline().empty();
  if (sources == 0) {
    p.Add("route", "one of points, geojson, gpx, encoded_polyline is required");
  } else if (sources > 1) {
    p.Add("route", "give exactly one of points, geojson, gpx, encoded_polyline");
  }
  if (r.points_size() == 1) p.Add("route.points", "needs at least 2 points");
  if (static_cast<size_t>(r.points_size()) > kMaxRoutePoints) {
    p.Add("route.points", absl::StrCat("at most ", kMaxRoutePoints, " points"));
  }
  for (int i = 0; i < r.points_size() && i < static_cast<int>(kMaxRoutePoints); ++i) {
    CheckPosition(p, absl::StrCat("route.points[", i, "]"), r.points(i));
  }
  for (const auto& [name, text] :
       {std::pair<const char*, const std::string*>{"geojson", &r.geojson()},
        {"gpx", &r.gpx()},
        {"encoded_polyline", &r.encoded_polyline()}}) {
    if (text->size() > kMaxRouteSourceBytes) {
      p.Add(absl::StrCat("route.", name), absl::StrCat("at most ", kMaxRouteSourceBytes, " bytes"));
    }
  }
  if (!r.encoded_polyline().empty() && r.encoded_polyline_precision() != 0 &&
      r.encoded_polyline_precision() != 5 && r.encoded_polyline_precision() != 6) {
    p.Add("route.encoded_polyline_precision", "must be 5 or 6 (0 = 5)");
  }
  const double hw = r.corridor_half_width_m();
  if (!std::isfinite(hw)) {
    p.Add("route.corridor_half_width_m", "must be finite");
  } else if (hw < 0) {
    p.Add("route.corridor_half_width_m", "must be >= 0 (0 = default 150)");
  } else if (hw > kMaxHalfWidthM) {
    p.Add("route.corridor_half_width_m", absl::StrCat("must be <= ", kMaxHalfWidthM));
  }
  const double sd = r.max_stop_distance_m();
  if (!std::isfinite(sd) || sd < 0 || sd > kMaxStopDistanceM) {
    p.Add("route.max_stop_distance_m",
          absl::StrCat("must be in [0, ", kMaxStopDistanceM, "] (0 = default ",
                       kDefaultMaxStopDistanceM, ")"));
  }
}

void CheckStop(Problems& p, int i, const cit::v1::Stop& s, std::set<std::string>& ids) {
  const std::string f = absl::StrCat("stops[", i, "]");
  CheckId(p, f + ".stop_id", s.stop_id());
  if (!s.stop_id().empty() && !ids.insert(s.stop_id()).second) {
    p.Add(f + ".stop_id", absl::StrCat("duplicate \"", s.stop_id(), "\""));
  }
  if (s.name().size() > 256) p.Add(f + ".name", "at most 256 characters");
  CheckText(p, f + ".name", s.name(), /*multiline=*/false);
  const bool has_polygon = s.polygon().exterior_size() > 0;
  if (has_polygon) {
    const auto& ext = s.polygon().exterior();
    if (ext.size() < 3) p.Add(f + ".polygon.exterior", "needs at least 3 points");
    if (static_cast<size_t>(ext.size()) > kMaxPolygonPoints) {
      p.Add(f + ".polygon.exterior", absl::StrCat("at most ", kMaxPolygonPoints, " points"));
    }
    for (int j = 0; j < ext.size() && j < static_cast<int>(kMaxPolygonPoints); ++j) {
      CheckPosition(p, absl::StrCat(f, ".polygon.exterior[", j, "]"), ext[j]);
    }
    for (int h = 0; h < s.polygon().holes_size(); ++h) {
      const auto& ring = s.polygon().holes(h).points();
      if (ring.size() < 3)
        p.Add(absl::StrCat(f, ".polygon.holes[", h, "]"), "needs at least 3 points");
      for (int j = 0; j < ring.size() && j < static_cast<int>(kMaxPolygonPoints); ++j) {
        CheckPosition(p, absl::StrCat(f, ".polygon.holes[", h, "].points[", j, "]"), ring[j]);
      }
    }
  } else {
    if (!s.has_position()) {
      p.Add(f + ".position", "required (or a polygon)");
    } else {
      CheckPosition(p, f + ".position", s.position());
    }
    if (!std::isfinite(s.radius_m())) {
      p.Add(f + ".radius_m", "must be finite");
    } else if (s.radius_m() <= 0) {
      p.Add(f + ".radius_m", "must be > 0");
    } else if (s.radius_m() > kMaxHalfWidthM) {
      p.Add(f + ".radius_m", absl::StrCat("must be <= ", kMaxHalfWidthM));
    }
  }
  CheckTime(p, f + ".arrival_earliest", s.arrival_earliest());
  CheckTime(p, f + ".arrival_latest", s.arrival_latest());
  if (HasTime(s.arrival_earliest()) && HasTime(s.arrival_latest()) &&
      (s.arrival_latest().seconds() < s.arrival_earliest().seconds() ||
       (s.arrival_latest().seconds() == s.arrival_earliest().seconds() &&
        s.arrival_latest().nanos() < s.arrival_earliest().nanos()))) {
    p.Add(f + ".arrival_latest", "must not be before arrival_earliest");
  }
  CheckNonNegative(p, f + ".max_dwell_s", s.max_dwell_s());
}

void CheckLimits(Problems& p, const cit::v1::RunLimits& l) {
  CheckNonNegative(p, "limits.max_speed_mps", l.max_speed_mps());
  CheckNonNegative(p, "limits.unscheduled_stop_s", l.unscheduled_stop_s());
  CheckNonNegative(p, "limits.gnss_loss_s", l.gnss_loss_s());
  CheckNonNegative(p, "limits.comms_loss_s", l.comms_loss_s());
  CheckNonNegative(p, "limits.stopped_speed_mps", l.stopped_speed_mps());
  CheckNonNegative(p, "limits.implausible_speed_mps", l.implausible_speed_mps());
  CheckNonNegative(p, "limits.backwards_tolerance_m", l.backwards_tolerance_m());
  CheckNonNegative(p, "limits.deviation_min_s", l.deviation_min_s());
  CheckNonNegative(p, "limits.overspeed_min_s", l.overspeed_min_s());
  CheckNonNegative(p, "limits.moved_without_run_m", l.moved_without_run_m());
  CheckNonNegative(p, "limits.missed_stop_grace_s", l.missed_stop_grace_s());
  if (l.jam_indicator_threshold() > 255) {
    p.Add("limits.jam_indicator_threshold", "must be in [0, 255]");
  }
  if (l.deviation_min_fixes() > 1000) p.Add("limits.deviation_min_fixes", "must be <= 1000");
  if (l.deviation_clear_fixes() > 1000) p.Add("limits.deviation_clear_fixes", "must be <= 1000");
  if (l.min_crew() > kMaxCrew) p.Add("limits.min_crew", absl::StrCat("must be <= ", kMaxCrew));
  // Set means "take this value" (unset: the default). Zero is a real setting for some limits
  // (max_speed_mps 0 = no speed limit, min_crew 0 = no crew check, 0 s / 0 m = at once / no
  // tolerance); for these it could only be a mistake, which used to pass silently as "default".
  const std::pair<const char*, bool> zero_set[] = {
      {"unscheduled_stop_s", l.has_unscheduled_stop_s() && l.unscheduled_stop_s() == 0},
      {"gnss_loss_s", l.has_gnss_loss_s() && l.gnss_loss_s() == 0},
      {"comms_loss_s", l.has_comms_loss_s() && l.comms_loss_s() == 0},
      {"stopped_speed_mps", l.has_stopped_speed_mps() && l.stopped_speed_mps() == 0},
      {"implausible_speed_mps", l.has_implausible_speed_mps() && l.implausible_speed_mps() == 0},
      {"moved_without_run_m", l.has_moved_without_run_m() && l.moved_without_run_m() == 0},
      {"deviation_min_fixes", l.has_deviation_min_fixes() && l.deviation_min_fixes() == 0},
      {"deviation_clear_fixes", l.has_deviation_clear_fixes() && l.deviation_clear_fixes() == 0},
      {"jam_indicator_threshold",
       l.has_jam_indicator_threshold() && l.jam_indicator_threshold() == 0},
  };
  for (const auto& [name, zero] : zero_set) {
    if (zero) p.Add(absl::StrCat("limits.", name), "must be > 0 (leave it out for the default)");
  }
}

}  // namespace

std::vector<std::string> StopWindowProblems(const cit::v1::RunPlan& plan) {
  std::vector<std::string> out;
  for (int i = 0; i < plan.stops_size(); ++i) {
    const cit::v1::Stop& s = plan.stops(i);
    if (s.has_arrival_latest()) continue;
    out.push_back(absl::StrCat("stops[", i, "].arrival_latest: required on this server ([plans] ",
                               "require_stop_windows): stop ", s.stop_id(),
                               " has no arrival window, so it could never be late or missed"));
  }
  return out;
}

std::vector<std::string> PlanProblems(const cit::v1::RunPlan& plan) {
  Problems p;
  CheckId(p, "run_id", plan.run_id());
  CheckId(p, "vehicle_id", plan.vehicle_id());
  if (static_cast<size_t>(plan.crew_badges_size()) > kMaxCrew) {
    p.Add("crew_badges", absl::StrCat("at most ", kMaxCrew, " badges"));
  }
  std::set<std::string> badges;
  for (int i = 0; i < plan.crew_badges_size(); ++i) {
    const std::string f = absl::StrCat("crew_badges[", i, "]");
    CheckId(p, f, plan.crew_badges(i));
    if (!badges.insert(plan.crew_badges(i)).second) p.Add(f, "duplicate");
  }
  if (!plan.has_route()) {
    p.Add("route", "required");
  } else {
    CheckRoute(p, plan.route());
  }
  if (static_cast<size_t>(plan.stops_size()) > kMaxStops) {
    p.Add("stops", absl::StrCat("at most ", kMaxStops, " stops"));
  }
  std::set<std::string> ids;
  for (int i = 0; i < plan.stops_size() && i < static_cast<int>(kMaxStops); ++i) {
    CheckStop(p, i, plan.stops(i), ids);
  }
  CheckLimits(p, plan.limits());
  CheckTime(p, "planned_start", plan.planned_start());
  CheckTime(p, "planned_end", plan.planned_end());
  if (HasTime(plan.planned_start()) && HasTime(plan.planned_end()) &&
      plan.planned_end().seconds() < plan.planned_start().seconds()) {
    p.Add("planned_end", "must not be before planned_start");
  }
  if (plan.notes().size() > 4096) p.Add("notes", "at most 4096 characters");
  CheckText(p, "notes", plan.notes(), /*multiline=*/true);
  return p.Take();
}

absl::Status ValidateRunPlan(const cit::v1::RunPlan& plan) {
  std::vector<std::string> problems = PlanProblems(plan);
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(JoinProblems(problems));
}

std::string JoinProblems(const std::vector<std::string>& problems) {
  constexpr size_t kMaxLineBytes = 200;
  std::string out;
  const size_t shown = std::min(problems.size(), kMaxProblemsShown);
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += '\n';
    if (problems[i].size() > kMaxLineBytes) {
      out.append(problems[i], 0, kMaxLineBytes);
      out += "...";
    } else {
      out += problems[i];
    }
  }
  if (problems.size() > shown) {
    absl::StrAppend(&out, "\n... and ", problems.size() - shown,
                    " more problems (fix these and submit again to see the rest)");
  }
  return out;
}

}  // namespace cit::dispatch
