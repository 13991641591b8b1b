#!/usr/bin/env bash
# Backlog drain benchmark: a 24-hour backlog (86,400 fixes at 1 Hz) sits in the agent's journal;
# the agent starts with the real dispatch-server up on loopback (mTLS, SQLite, durable acks) and
# we time until every record is acknowledged (the journal holds no segment any more).
#
#   bench/agent_drain.sh [BUILD_DIR] [FIXES]      # defaults: build/dev 86400
#   AGENT=path/to/vehicle-agent bench/agent_drain.sh ...   # measure another agent binary
# Target (DESIGN §12): < 10 s. Prints one result line; docs/benchmarks.md records it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/dev}
n=${2:-86400}
vehicle=CIT-0001
work=$(mktemp -d /tmp/cit-agent-drain-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; [[ -n "${KEEP:-}" ]] && echo "kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

bash deploy/make-certs.sh "$work/certs" "$vehicle" >/dev/null
"$build/bench/agent_bench" --fill-journal "$work/journal" "$n" "$vehicle"
port=$(free_port)
source bench/agent_server_args.sh
"$build/dispatch-server/dispatch-server" $(server_args "$work" "$port") >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

cat >"$work/agent.toml" <<TOML
vehicle_id = "$vehicle"
heartbeat_interval_s = 0
[journal]
dir = "$work/journal"
[gps]
enabled = false
[sensors]
socket_path = ""
[uplink]
server = "localhost:$port"
ca_file = "$work/certs/ca.crt"
cert_file = "$work/certs/$vehicle.crt"
key_file = "$work/certs/$vehicle.key"
TOML
start=$(date +%s.%N)
"${AGENT:-$build/vehicle-agent/vehicle-agent}" --config "$work/agent.toml" >"$work/agent.log" 2>&1 &
pids+=($!)
while compgen -G "$work/journal/*.seg" >/dev/null; do sleep 0.02; done
end=$(date +%s.%N)
stored=$(sqlite3 "$work/dispatch.db" "SELECT count(*) FROM records WHERE vehicle_id='$vehicle'")
secs=$(calc "$end - $start")
printf 'agent_drain: %d fixes drained and acknowledged in %.2f s (%.0f fixes/s); server stored %d; nproc=%d\n' \
  "$n" "$secs" "$(calc "$n / $secs")" "$stored" "$(nproc)"
