#!/usr/bin/env bash
# Agent footprint at 1 Hz: gpsfake loops a real capture (bundg_zeus_9, paced to ~1 fix/s) into
# gpsd; the agent streams to the real dispatch-server over loopback mTLS. Samples the agent's RSS
# (VmRSS, VmHWM) and CPU time (utime+stime from /proc/PID/stat) over DURATION seconds.
#
#   bench/agent_soak.sh [BUILD_DIR] [DURATION_S]     # defaults: build/dev 600
#   SMAPS=1 bench/agent_soak.sh ...   # also print Rss/Pss/Private per mapped object at the end
#   AGENT=path/to/vehicle-agent bench/agent_soak.sh ...   # measure another agent binary
# Targets (DESIGN §12): < 10 MB RSS, < 1% of one core. "MB" in the output are MiB (kB / 1024 of
# the kB figures /proc reports).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/dev}
duration=${2:-600}
vehicle=CIT-0001
work=$(mktemp -d /tmp/cit-agent-soak-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 -- "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done; [[ -n "${KEEP:-}" ]] && echo "kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

bash deploy/make-certs.sh "$work/certs" "$vehicle" >/dev/null
port=$(free_port)
gps_port=$(free_port)
source bench/agent_server_args.sh
"$build/dispatch-server/dispatch-server" $(server_args "$work" "$port") >"$work/server.log" 2>&1 &
pids+=($!)
# The capture has ~34 NMEA sentences per 1 s fix: 0.029 s per sentence paces it to ~1 Hz.
# Without -1 gpsfake replays it in a loop for as long as we need.
setsid gpsfake -q -n -c 0.029 -W 5 -P "$gps_port" tests/data/gpsd/bundg_zeus_9.log \
  >"$work/gpsfake.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

cat >"$work/agent.toml" <<TOML
vehicle_id = "$vehicle"
[journal]
dir = "$work/journal"
[gps]
port = "$gps_port"
max_clock_skew_s = 2000000000
[sensors]
socket_path = "$work/sensors.sock"
[uplink]
server = "localhost:$port"
ca_file = "$work/certs/ca.crt"
cert_file = "$work/certs/$vehicle.crt"
key_file = "$work/certs/$vehicle.key"
TOML
"${AGENT:-$build/vehicle-agent/vehicle-agent}" --config "$work/agent.toml" >"$work/agent.log" 2>&1 &
agent=$!
pids+=($agent)
sleep 5  # start-up (TLS handshake, first fixes) is not the steady state
ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }
hz=$(getconf CLK_TCK)
t0=$(date +%s.%N); c0=$(ticks)
n0=$(sqlite3 "$work/dispatch.db" "SELECT count(*) FROM records WHERE vehicle_id='$vehicle' AND kind=10")
max_rss=0
end=$(( $(date +%s) + duration ))
while (( $(date +%s) < end )); do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
  (( rss > max_rss )) && max_rss=$rss
  sleep 5
done
t1=$(date +%s.%N); c1=$(ticks)
n1=$(sqlite3 "$work/dispatch.db" "SELECT count(*) FROM records WHERE vehicle_id='$vehicle' AND kind=10")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent/status")
anon=$(awk '/RssAnon/ {print $2}' "/proc/$agent/status")
file=$(awk '/RssFile/ {print $2}' "/proc/$agent/status")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$agent/smaps_rollup")
uss=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$agent/smaps_rollup")
threads=$(awk '/Threads/ {print $2}' "/proc/$agent/status")
if [[ -n "${SMAPS:-}" ]]; then
  # Where the RSS lives: one line per mapped file ([heap], [stack], anonymous for the rest).
  awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]"; next }
       /^Rss:/ { rss[name] += $2 } /^Pss:/ { pss[name] += $2 }
       /^Private_(Clean|Dirty):/ { priv[name] += $2 }
       END { for (n in rss) if (rss[n] > 0) printf "%8d %8d %8d  %s\n", rss[n], pss[n], priv[n], n }' \
    "/proc/$agent/smaps" | sort -rn |
    awk 'BEGIN { print "     Rss      Pss  Private  (kB) mapping" }
         { print; r += $1; p += $2; q += $3 } END { printf "%8d %8d %8d  total\n", r, p, q }' >&2
  # The executable's own segments (text, rodata, relro, data): size vs resident.
  awk -v exe="$(readlink "/proc/$agent/exe")" '/^[0-9a-f]+-[0-9a-f]+ / { m = ($6 == exe) ? $2 : "" }
       m != "" && /^Size:/ { s = $2 } m != "" && /^Rss:/ { printf "  %s segment: %d of %d kB resident\n", m, $2, s }' \
    "/proc/$agent/smaps" >&2
fi
elapsed=$(calc "$t1 - $t0")
cpu=$(calc "100 * ($c1 - $c0) / $hz / $elapsed")
rate=$(calc "($n1 - $n0) / $elapsed")
printf 'agent_soak: %.0f s, %.2f fixes/s stored, agent CPU %.3f%% of one core, VmRSS max %.1f MB (VmHWM %.1f MB) = RssAnon %.1f MB + RssFile %.1f MB (mapped files: the executable and any shared libraries); PSS %.1f MB; USS %.1f MB; %d threads; nproc=%d\n' \
  "$elapsed" "$rate" "$cpu" "$(calc "$max_rss / 1024")" "$(calc "$hwm / 1024")" \
  "$(calc "$anon / 1024")" "$(calc "$file / 1024")" "$(calc "$pss / 1024")" "$(calc "$uss / 1024")" \
  "$threads" "$(nproc)"
