#!/usr/bin/env bash
# fleet_load against the PostgreSQL store with one or two dispatch-server instances, or against
# SQLite for the ratio (issue 15 §5). Everything in a temp dir on free loopback ports: a private
# PostgreSQL 15 with durable settings (fsync on, synchronous_commit on; as `nobody` when run as
# root), the servers (mTLS), then fleet_load (1,000 vehicles, as fast as the window allows).
#
#   bench/pg_instances.sh BUILD sqlite     one server, SQLite, durability full
#   bench/pg_instances.sh BUILD pg1        one server on PostgreSQL
#   bench/pg_instances.sh BUILD pg2        two servers on one PostgreSQL, vehicles split
#   bench/pg_instances.sh BUILD pg2-kill   two servers, kill -9 of the first KILL_AFTER_S (8) s
#                                          into the measurement; fleet_load --reconnect reports
#                                          each moved vehicle's outage (stream failure -> first
#                                          Ack from the other instance) and lost acked records
# Env: VEHICLES (1000), DURATION_S (20), WARMUP_S (5), BATCH (100), WINDOW (400),
# CONNECT_WAIT_S (300: the measurement starts once every vehicle is welcomed, or after this),
# PG_TOP_STATEMENTS=1 (print pg_stat_statements top statements after the run).
# Prints nproc and the load average before and after, then fleet_load's result lines.
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
mode=${2:?sqlite, pg1, pg2 or pg2-kill}
vehicles=${VEHICLES:-1000}
src=$(cd "$(dirname "$0")/.." && pwd)
pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/citwatch-pgbench-XXXXXX")
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -f $work/pg/data/postmaster.pid ]]; then
    as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; else "$@"; fi
}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
bash "$src/deploy/make-certs.sh" "$work/certs" >/dev/null

instances=1
[[ $mode == pg2* ]] && instances=2
store_toml=""
if [[ $mode == pg* ]]; then
  mkdir -p "$work/pg"
  [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$work/pg"
  as_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust >"$work/initdb.log" 2>&1
  pgport=$(free_port)
  as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -o "-c listen_addresses=127.0.0.1 \
    -p $pgport -k $work/pg -c fsync=on -c synchronous_commit=on -c shared_buffers=128MB \
    -c max_wal_size=2GB -c shared_preload_libraries=pg_stat_statements" start >/dev/null
  "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -qc "CREATE DATABASE citwatch"
  "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -d citwatch -qc "CREATE EXTENSION pg_stat_statements"
  store_toml="backend = \"postgresql\"
connection = \"host=127.0.0.1 port=$pgport dbname=citwatch user=postgres\""
fi

targets=""
server_pids=()
for i in $(seq "$instances"); do
  tport=$(free_port)
  mport=$(free_port)
  mkdir -p "$work/s$i"
  instance_line=""
  [[ $mode == pg* ]] && instance_line="instance = \"bench$i\""
  cat >"$work/s$i/config.toml" <<TOML
[store]
$instance_line
path = "$work/s$i/dispatch.db"
durability = "full"
$store_toml
TOML
  "$build/dispatch-server/dispatch-server" --config "$work/s$i/config.toml" \
    --telemetry-listen "127.0.0.1:$tport" --operator-listen "127.0.0.1:$(free_port)" \
    --metrics-listen "127.0.0.1:$mport" --http-listen "" \
    --tls-ca "$work/certs/ca.crt" --tls-cert "$work/certs/server.crt" \
    --tls-key "$work/certs/server.key" --log-level warn >"$work/s$i/server.log" 2>&1 &
  pids+=($!)
  server_pids+=($!)
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$mport/healthz" >/dev/null && break
    sleep 0.2
  done
  targets+="${targets:+,}localhost:$tport"
done

echo "mode=$mode nproc=$(nproc) loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)"
load_args=(--certs "$work/certs" --target "$targets" --vehicles "$vehicles"
  --duration-s "${DURATION_S:-20}" --warmup-s "${WARMUP_S:-5}" --batch "${BATCH:-100}"
  --window "${WINDOW:-400}" --connect-wait-s "${CONNECT_WAIT_S:-300}")
if [[ $mode == pg2-kill ]]; then
  "$build/bench/fleet_load" "${load_args[@]}" --reconnect >"$work/load.out" 2>"$work/load.log" &
  load_pid=$!
  until grep -q "t=1 s" "$work/load.log" 2>/dev/null; do
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep "$((${KILL_AFTER_S:-8} - 1))"
  kill -KILL "${server_pids[0]}"
  echo "killed instance 1 (kill -9) at measured t=${KILL_AFTER_S:-8} s"
  wait "$load_pid" || true
  cat "$work/load.out"
  grep "streams welcomed" "$work/load.log"
else
  "$build/bench/fleet_load" "${load_args[@]}" 2>"$work/load.log" || true
  grep "streams welcomed" "$work/load.log"
fi
echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $mode == pg* && -n ${PG_TOP_STATEMENTS:-} ]]; then
  "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -d citwatch -c \
    "SELECT calls, round(total_exec_time) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms,
            rows, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
     FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 8"
fi
