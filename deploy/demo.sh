#!/usr/bin/env bash
# citwatch in one command: on a fresh Debian 12 machine, as root, from the repository root:
#
#   bash deploy/demo.sh
#
# 1. installs the Debian packages (deploy/install-deps.sh) and builds the three programs;
# 2. makes a demo PKI (deploy/make-certs.sh) and operator tokens for three roles;
# 3. starts dispatch-server on a fresh SQLite file, submits and dispatches the run plan
#    deploy/demo/plan.toml (its route turns away from where the truck will drive);
# 4. replays a real receiver capture shipped in the repository (deploy/demo/bundg_zeus_9.log,
#    see deploy/demo/ATTRIBUTION) through gpsfake -> gpsd -> vehicle-agent, and opens a cargo
#    door through the agent's sensor socket while the truck is away from any stop;
# 5. shows the alerts live (`dispatchctl watch`): ROUTE_DEVIATION, DOOR_OPEN_OUTSIDE_STOP, and in
#    the web console (its URL and a sign-in token are printed when the server starts);
# 6. completes the run, prints the audit report, verifies the hash chain, exports the track,
#    stops everything it started and exits (non-zero if an expected alert or the verification
#    is missing).
#
# Options (environment): CIT_DEMO_KEEP=1 keeps the work directory and the server running (for the
# console) until Ctrl-C; CIT_DEMO_BUILD_DIR changes
# the build directory (default build/demo); CIT_DEMO_SKIP_DEPS=1 skips the package check;
# CIT_DEMO_NO_BUILD=1 uses the programs already built in CIT_DEMO_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
t_start=$(date +%s)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
elapsed() { echo "$(($(date +%s) - t_start)) s"; }

# --- 1. packages and build -----------------------------------------------------------------------
if [[ -z ${CIT_DEMO_SKIP_DEPS:-} ]]; then
  say "installing Debian packages (deploy/install-deps.sh)"
  bash deploy/install-deps.sh
fi
build=${CIT_DEMO_BUILD_DIR:-$root/build/demo}
say "building dispatch-server, vehicle-agent, dispatchctl and the web console in $build"
# Only the three programs: no tests, no benchmarks, no debug info (keeps a 2-core build short).
if [[ -z ${CIT_DEMO_NO_BUILD:-} ]]; then
  mkdir -p "$build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DCIT_BUILD_TESTS=OFF \
    -DCIT_BUILD_BENCH=OFF >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
  cmake --build "$build" -j "$(nproc)" --target dispatch-server vehicle-agent dispatchctl
  # The console (npm ci + Vite): needs npm, which deploy/install-deps.sh installs.
  if grep -q '^CIT_BUILD_CONSOLE:BOOL=ON' "$build/CMakeCache.txt"; then
    cmake --build "$build" --target console
  fi
fi
console_dist=$build/console/dist
server_bin=$build/dispatch-server/dispatch-server
agent_bin=$build/vehicle-agent/vehicle-agent
ctl_bin=$build/dispatchctl/dispatchctl
echo "built in $(elapsed)"

# --- 2. work directory, certificates, tokens ----------------------------------------------------
work=$(mktemp -d /tmp/citwatch-demo.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  # Stop what we started, newest first, each by its own process group (gpsfake spawns gpsd).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM -- "-${pids[i]}" 2>/dev/null || kill -TERM "${pids[i]}" 2>/dev/null || true
  done
  sleep 1
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -KILL -- "-${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [[ -n ${CIT_DEMO_KEEP:-} ]]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in its own process group with output to $work/<name>.log; remembers its pid.
start() {
  local name=$1
  shift
  setsid "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # host port seconds
  local deadline=$(($(date +%s) + $3))
  until (echo >"/dev/tcp/$1/$2") 2>/dev/null; do
    if (($(date +%s) > deadline)); then echo "timed out waiting for $1:$2" >&2; return 1; fi
    sleep 0.2
  done
}

vehicle=DEMO-TRUCK-07
run=DEMO-RUN-1
say "demo PKI and operator tokens in $work"
bash deploy/make-certs.sh "$work/pki" "$vehicle" >/dev/null
: >"$work/operator-tokens.toml"
for who in dora:dispatcher olga:operator aude:auditor; do
  name=${who%%:*}
  role=${who#*:}
  "$ctl_bin" token new --name "$name" --role "$role" >"$work/$name.entry"
  sed -n '2p' "$work/$name.entry" | sed 's/^# //' >"$work/$name.token"
  grep -v '^#' "$work/$name.entry" >>"$work/operator-tokens.toml"
  echo "  $name ($role): token in $work/$name.token"
done

# The checkpoint signing key; the auditor keeps a copy of its public half outside the server.
openssl genpkey -algorithm ed25519 -out "$work/checkpoint-key.pem" 2>/dev/null
chmod 600 "$work/checkpoint-key.pem"
openssl pkey -in "$work/checkpoint-key.pem" -pubout -out "$work/aude-checkpoint-key.pub.pem"
echo "  checkpoint key: $work/checkpoint-key.pem (public half for the auditor: aude-checkpoint-key.pub.pem)"

telemetry_port=$(free_port)
operator_port=$(free_port)
metrics_port=$(free_port)
http_port=$(free_port)
gpsd_port=$(free_port)
cat >"$work/dispatch-server.toml" <<EOF
# Written by deploy/demo.sh
[telemetry]
listen = "127.0.0.1:$telemetry_port"
[operator]
listen = "127.0.0.1:$operator_port"
[metrics]
listen = "127.0.0.1:$metrics_port"
[tls]
ca = "$work/pki/ca.crt"
cert = "$work/pki/server.crt"
key = "$work/pki/server.key"
[store]
path = "$work/dispatch.db"
[auth]
tokens = "$work/operator-tokens.toml"
[audit]
signing_key = "$work/checkpoint-key.pem"
[http]
listen = "127.0.0.1:$http_port"
assets_dir = "$console_dist"
server_name = "citwatch demo"
EOF

# --- 3. server, plan ----------------------------------------------------------------------------
say "starting dispatch-server (SQLite $work/dispatch.db)"
start dispatch-server "$server_bin" --config "$work/dispatch-server.toml"
wait_port 127.0.0.1 "$operator_port" 20 || { cat "$work/dispatch-server.log"; exit 1; }
console_url="https://localhost:$http_port/"
say "web console: $console_url"
if [[ -f $console_dist/index.html ]]; then
  echo "  open it in a browser on this machine (the certificate is signed by the demo CA"
  echo "  $work/pki/ca.crt: accept the warning or import that CA), sign in with olga's token:"
  echo "  $(cat "$work/olga.token")"
  echo "  (dispatcher dora: $work/dora.token, auditor aude: $work/aude.token)"
else
  echo "  console assets not built (npm missing? run deploy/install-deps.sh): API only"
fi

ctl() {  # ctl WHO args...
  local who=$1
  shift
  "$ctl_bin" --server "localhost:$operator_port" --ca-file "$work/pki/ca.crt" \
    --token-file "$work/$who.token" "$@"
}

say "dispatcher dora submits and dispatches the run plan (deploy/demo/plan.toml)"
# --force: the demo truck has never connected to this fresh server (a new vehicle).
ctl dora plan create --force deploy/demo/plan.toml
ctl dora plan dispatch "$run" >/dev/null
echo "run $run dispatched"

say "operator olga watches alerts live"
color=never
[[ -t 1 ]] && color=always
start watch "$ctl_bin" --server "localhost:$operator_port" --ca-file "$work/pki/ca.crt" \
  --token-file "$work/olga.token" watch --color "$color"
setsid bash -c "tail -n +1 -f '$work/watch.log' | sed -u 's/^/  [watch] /'" &
pids+=($!)

# --- 4. replay the capture through gpsd into the agent -------------------------------------------
say "replaying deploy/demo/bundg_zeus_9.log: gpsfake -> gpsd -> vehicle-agent"
# -c 0.01: one sentence every 10 ms (the capture has ~33 sentences per fix: ~3 fixes/s).
start gpsfake gpsfake -1 -q -n -c 0.01 -W 5 -P "$gpsd_port" "$root/deploy/demo/bundg_zeus_9.log"
gpsfake_pid=${pids[-1]}
wait_port 127.0.0.1 "$gpsd_port" 20 || { cat "$work/gpsfake.log"; exit 1; }
start vehicle-agent "$agent_bin" --vehicle-id "$vehicle" --journal-dir "$work/journal" \
  --server "localhost:$telemetry_port" --gpsd "127.0.0.1:$gpsd_port" \
  --sensor-socket "$work/sensors.sock" --ca "$work/pki/ca.crt" \
  --cert "$work/pki/$vehicle.crt" --key "$work/pki/$vehicle.key" --log-level info

sensor() {  # one line to the agent's sensor socket; prints the agent's reply
  python3 - "$work/sensors.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print("  [sensor] " + sys.argv[2] + " -> " + s.makefile().readline().strip())
PY
}
for _ in $(seq 1 100); do [[ -S $work/sensors.sock ]] && break; sleep 0.1; done
# Both crew members badge in at the depot, as the plan expects.
sensor "crew B-1001 in"
sensor "crew B-1002 in"

# The truck leaves the depot zone (40 m) after ~15 s of replay and is away from every stop
# from then on: open the cargo door there.
sleep 15
say "crew opens cargo door 1 away from any stop"
sensor "door 1 open"
sleep 3
sensor "door 1 closed"

# gpsfake -1 exits at the end of the capture; give the agent a moment to deliver the tail.
for _ in $(seq 1 120); do kill -0 "$gpsfake_pid" 2>/dev/null || break; sleep 0.5; done
sleep 3

# --- 5./6. end of run, audit -------------------------------------------------------------------
say "operator olga: the fleet"
ctl olga fleet || true

say "dispatcher dora completes the run"
ctl dora plan complete "$run" --comment "demo finished" >/dev/null && echo "run $run completed"
sleep 1

say "auditor aude: audit report"
ctl aude audit report "$run" | tee "$work/report.txt"

say "auditor aude: verify records, plan log and alert events against the signed checkpoints"
verify_rc=0
ctl aude audit verify "$run" --public-key "$work/aude-checkpoint-key.pub.pem" || verify_rc=$?

say "auditor aude: export the track"
ctl aude audit export "$run" --format geojson -o "$work/$run.geojson"
ctl aude audit export "$run" --format gpx -o "$work/$run.gpx"
ctl aude audit export "$run" --format csv -o "$work/$run.csv"

say "summary"
ok=1
for kind in ROUTE_DEVIATION DOOR_OPEN_OUTSIDE_STOP; do
  if grep -q "$kind" "$work/watch.log" "$work/report.txt"; then
    echo "  seen: $kind"
  else
    echo "  MISSING: $kind"
    ok=0
  fi
done
if ((verify_rc == 0)); then echo "  hash chain verified"; else echo "  hash chain NOT verified"; ok=0; fi
echo "  demo took $(elapsed) (including the build)"
if [[ -n ${CIT_DEMO_KEEP:-} ]]; then
  say "CIT_DEMO_KEEP=1: dispatch-server keeps running; console $console_url (Ctrl-C stops it)"
  echo "  sign in with olga's token: $(cat "$work/olga.token")"
  server_pid=${pids[0]}
  while kill -0 "$server_pid" 2>/dev/null; do sleep 2; done
fi
((ok == 1))
