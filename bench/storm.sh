#!/usr/bin/env bash
# Reconnect storm (issue 16 §1): a dispatch-server with the given config (default: the built-in
# defaults, i.e. the in-flight budget of deploy/dispatch-server.toml), then fleet_load with
# VEHICLES agents each replaying BACKLOG records of 1 Hz backlog, connecting within RAMP_S
# seconds, over mTLS on loopback. Prints fleet_load's storm line, then the server's peak RSS
# (VmHWM from /proc), records stored and the in-flight peak (from /metrics).
#
#   bench/storm.sh build/ci 1000 3600 10                      # budget as configured (defaults)
#   CONFIG=/tmp/unbounded.toml bench/storm.sh build/ci 1000 600 10  # e.g. a huge budget
#
# Env: CONFIG (server TOML), BATCH (500) and WINDOW (4000): the agent's defaults, MAX_S (3600),
# LOG_LEVEL (warn; info also shows the server's event=memory_budget line).
set -euo pipefail
build=${1:?build dir}
vehicles=${2:?vehicles}
backlog=${3:?backlog records per vehicle}
ramp=${4:-10}
batch=${BATCH:-500}
window=${WINDOW:-4000}
max_s=${MAX_S:-3600}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
bash "$src/deploy/make-certs.sh" "$work/certs" >/dev/null
tport=$(free_port)
mport=$(free_port)
config_args=()
[[ -n ${CONFIG:-} ]] && config_args=(--config "$CONFIG")
"$build/dispatch-server/dispatch-server" "${config_args[@]}" \
  --telemetry-listen "127.0.0.1:$tport" --operator-listen "127.0.0.1:$(free_port)" \
  --metrics-listen "127.0.0.1:$mport" --http-listen 127.0.0.1:0 --database "$work/dispatch.db" \
  --tls-ca "$work/certs/ca.crt" --tls-cert "$work/certs/server.crt" \
  --tls-key "$work/certs/server.key" --log-level "${LOG_LEVEL:-warn}" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$mport/metrics" >/dev/null && break
  sleep 0.1
done

# Every 2 s: RSS and malloc's live bytes, so that the peak RSS can be told apart from memory
# the allocator keeps after freeing it (fragmentation). The maximum of each is printed at the end.
sample() {
  while kill -0 "$server_pid" 2>/dev/null; do
    echo "$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status") $(curl -sf \
      "http://127.0.0.1:$mport/metrics" | awk '$1 == "cit_process_malloc_in_use_bytes" {print $2}')"
    sleep 2
  done >"$work/samples"
}
sample &
sampler_pid=$!

rc=0
"$build/bench/fleet_load" --certs "$work/certs" --target "localhost:$tport" \
  --vehicles "$vehicles" --backlog "$backlog" --connect-ramp-s "$ramp" --batch "$batch" \
  --window "$window" --duration-s "$max_s" || rc=$?

metric() { curl -sf "http://127.0.0.1:$mport/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
echo "server vm_hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")" \
  "vm_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")" \
  "records_stored=$(metric cit_ingest_records_stored_total)" \
  "duplicates=$(metric cit_ingest_duplicates_total)" \
  "inflight_peak_records=$(metric cit_ingest_inflight_peak_records)" \
  "inflight_peak_bytes=$(metric cit_ingest_inflight_peak_bytes)" \
  "budget_waits=$(metric cit_ingest_budget_waits_total)" \
  "commits=$(metric cit_ingest_commits_total)" \
  "malloc_in_use_bytes=$(metric cit_process_malloc_in_use_bytes)" \
  "malloc_free_bytes=$(metric cit_process_malloc_free_bytes)"
kill "$sampler_pid" 2>/dev/null || true
awk '{ if ($1 > r) r = $1; if ($2 + 0 > m) m = $2 + 0 } END { printf "samples: max_rss_kb=%d max_malloc_in_use_bytes=%.0f\n", r, m }' "$work/samples"
grep -o "event=memory_budget .*" "$work/server.log" | head -1 || true
grep -E "ingest_budget_(engaged|cleared)" "$work/server.log" | head -4 || true
exit $rc
