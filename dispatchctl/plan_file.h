// Reads a run plan file (JSON or TOML) into a cit.v1.RunPlan for `dispatchctl plan create`.
//
//   absl::StatusOr<cit::v1::RunPlan> plan = LoadPlanFile("deploy/demo/plan.toml");
//
// The file uses the proto field names of RunPlan (proto/cit/v1/dispatch.proto), with these
// conveniences:
// - times are RFC 3339 ("2026-11-29T08:00:00Z"), "now", "now+15m", or relative to the plan's
//   planned_start: "+90s", "+15m", "+1h", "-5m";
// - route: exactly one of `geojson_file`, `gpx_file` (paths relative to the plan file),
//   `geojson`, `gpx` (inline text), `polyline` (+ `polyline_precision`, default 5) or
//   `points` = [[lon, lat], ...]; plus `corridor_half_width_m`. The route is imported here with
//   the cit::geo importers, so a bad route is reported before anything is sent;
// - a stop's circle centre may be given as `lat`/`lon` instead of `position`.
// Errors name the field: "stops[1].arrival_latest: not a time".
// Bounds (geo/input_limits.h): plan and route files must be regular files (not a device or FIFO)
// of at most 64 MiB; JSON/TOML nested more than 64 levels (brackets, tables, dotted keys) is
// refused before it is parsed.
//
// Thread contract: free functions, no shared state. `now` is read once per call.
#ifndef CIT_DISPATCHCTL_PLAN_FILE_H_
#define CIT_DISPATCHCTL_PLAN_FILE_H_

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::ctl {

absl::StatusOr<cit::v1::RunPlan> LoadPlanFile(const std::filesystem::path& path);

// Mistakes the server accepts but a dispatcher should see, one line each, naming the stop:
// a stop without arrival_latest can never be LATE_ARRIVAL or MISSED_STOP. (A server with
// `[plans] require_stop_windows = true` refuses such a plan.)
std::vector<std::string> PlanWarnings(const cit::v1::RunPlan& plan);

// `text` is JSON when it starts with '{', TOML otherwise; relative file names resolve in `dir`.
absl::StatusOr<cit::v1::RunPlan> ParsePlan(std::string_view text, const std::filesystem::path& dir,
                                           std::chrono::system_clock::time_point now);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_PLAN_FILE_H_
