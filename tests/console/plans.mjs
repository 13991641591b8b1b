// Run plans for the browser tests, as dispatchctl plan files (TOML; times relative to now).

// A straight 2 km road east from (lat, lon) with three stops: start, middle, end.
export function straightRun({ runId, vehicleId, lat = 47.3700, lon = 8.5000, corridorM = 60 }) {
  const dLon = 0.0265;  // ~2 km at 47.37 N
  const at = (f) => lon + dLon * f;
  return {
    runId,
    vehicleId,
    lat,
    at,
    toml: `run_id = "${runId}"
vehicle_id = "${vehicleId}"
planned_start = "now-1m"
planned_end = "+60m"
[route]
points = [[${lon}, ${lat}], [${at(0.5)}, ${lat}], [${at(1)}, ${lat}]]
corridor_half_width_m = ${corridorM}
[[stops]]
stop_id = "S1"
name = "Depot"
lat = ${lat}
lon = ${lon}
radius_m = 50
arrival_earliest = "-10m"
arrival_latest = "+30m"
doors_may_open = true
[[stops]]
stop_id = "S2"
name = "Branch Mitte"
lat = ${lat}
lon = ${at(0.5)}
radius_m = 50
arrival_earliest = "-10m"
arrival_latest = "+30m"
doors_may_open = true
[[stops]]
stop_id = "S3"
name = "Vault Ost"
lat = ${lat}
lon = ${at(1)}
radius_m = 50
arrival_earliest = "-10m"
arrival_latest = "+30m"
doors_may_open = true
`,
  };
}
