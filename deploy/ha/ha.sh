#!/usr/bin/env bash
# citwatch high-availability recipe on one machine, all on loopback: three etcd 3.4 members
# (one per database node plus a witness), two PostgreSQL 15 nodes managed by Patroni 3.0.2 with
# synchronous replication, and two dispatch-servers on [store] backend = "postgresql" that
# follow the primary (libpq multi-host, target_session_attrs=read-write).
# docs/operations.md "High availability" explains it; docs/benchmarks.md has its figures.
#
#   deploy/ha/ha.sh start  DIR [BUILD]     start everything in DIR (made if missing; BUILD
#                                          defaults to build/ci)
#   deploy/ha/ha.sh status DIR             who is primary, replication, the servers
#   deploy/ha/ha.sh stop   DIR             stop everything started in DIR
#   deploy/ha/ha.sh failover-test DIR [BUILD]
#        start, drive fleet_load against both servers, kill -9 the primary's Patroni and
#        PostgreSQL under load, and report how long the servers stopped committing and
#        whether any acknowledged record is missing from the new primary; stops everything at
#        the end. Exit 0 only if no acknowledged record was lost.
#
# Environment: HA_STRICT=1 (synchronous_mode_strict), HA_VEHICLES (200), HA_DURATION_S (40),
# HA_KILL_AFTER_S (10: seconds of measured load before the kill).
# Runs PostgreSQL and Patroni as `nobody` when started as root (PostgreSQL refuses root).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
pgbin=/usr/lib/postgresql/15/bin

die() {
  echo "ha.sh: $*" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command as the unprivileged user PostgreSQL needs when we are root.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$dir" "$@"
  else
    "$@"
  fi
}

fill() {  # fill TEMPLATE NAME=VALUE... > output
  local template=$1
  shift
  local sed_args=()
  for kv in "$@"; do sed_args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${sed_args[@]}" "$template"
}

load_ports() {
  [[ -f $dir/ports.env ]] || die "no recipe in $dir (run: ha.sh start $dir)"
  # shellcheck disable=SC1091
  . "$dir/ports.env"
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits up to $2 seconds for command $3... to succeed.
wait_for() {
  local what=$1 limit=$2
  shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - start < limit)) || die "timed out after ${limit} s waiting for $what (logs: $dir/*.log)"
    sleep 0.2
  done
}

rest() { curl -fsS --max-time 2 "http://127.0.0.1:$1/$2"; }

# Prints the node name (node1/node2) whose Patroni says it is the primary, or nothing.
primary() {
  local i
  for i in 1 2; do
    local port_var=REST_PORT_$i
    if rest "${!port_var}" primary >/dev/null 2>&1; then
      echo "node$i"
      return 0
    fi
  done
  return 1
}

start_etcd() {
  local i cluster=""
  for i in 1 2 3; do
    local peer=ETCD_PEER_$i
    cluster+="${cluster:+,}etcd$i=http://127.0.0.1:${!peer}"
  done
  for i in 1 2 3; do
    pid_alive "$dir/etcd$i.pid" && continue
    local client=ETCD_CLIENT_$i peer=ETCD_PEER_$i
    etcd --name "etcd$i" --data-dir "$dir/etcd$i" \
      --listen-client-urls "http://127.0.0.1:${!client}" \
      --advertise-client-urls "http://127.0.0.1:${!client}" \
      --listen-peer-urls "http://127.0.0.1:${!peer}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${!peer}" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token citwatch-ha >>"$dir/etcd$i.log" 2>&1 &
    echo $! >"$dir/etcd$i.pid"
  done
  wait_for "etcd" 30 curl -fsS --max-time 1 "http://127.0.0.1:$ETCD_CLIENT_1/health"
}

start_patroni() {  # start_patroni N
  local i=$1
  pid_alive "$dir/patroni$i.pid" && return 0
  local node=node$i rest_var=REST_PORT_$i pg_var=PG_PORT_$i
  mkdir -p "$dir/$node"
  chmod 700 "$dir/$node"
  fill "$here/patroni.yml.in" NAME="$node" REST_PORT="${!rest_var}" PG_PORT="${!pg_var}" \
    DIR="$dir" STRICT="$strict" \
    ETCD_HOSTS="127.0.0.1:$ETCD_CLIENT_1,127.0.0.1:$ETCD_CLIENT_2,127.0.0.1:$ETCD_CLIENT_3" \
    >"$dir/$node/patroni.yml"
  [[ $(id -u) -eq 0 ]] && chown -R nobody:nogroup "$dir/$node"
  # exec: the pid file holds Patroni's own pid, the process to stop (or kill -9 in the test).
  (
    if [[ $(id -u) -eq 0 ]]; then
      exec setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$dir" \
        patroni "$dir/$node/patroni.yml"
    fi
    exec patroni "$dir/$node/patroni.yml"
  ) >>"$dir/patroni$i.log" 2>&1 &
  echo $! >"$dir/patroni$i.pid"
  disown  # the failover test kills it: no "Killed" job notice from this shell
}

# Each instance signs its checkpoints with its own Ed25519 key; both append to one checkpoint
# chain in PostgreSQL, so each must know the other's public key to verify it ([audit]
# instance_keys; docs/operations.md). Made here, before either starts, so both configs can name
# both keys.
make_checkpoint_keys() {
  mkdir -p "$dir/keys"
  local i
  for i in 1 2; do
    [[ -f $dir/keys/server$i.pem ]] && continue
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/keys/server$i.pem")
    openssl pkey -in "$dir/keys/server$i.pem" -pubout -out "$dir/keys/server$i.pub.pem"
  done
}

start_server() {  # start_server N
  local i=$1
  pid_alive "$dir/server$i.pid" && return 0
  local name=server$i tel=TELEMETRY_PORT_$i op=OPERATOR_PORT_$i met=METRICS_PORT_$i
  mkdir -p "$dir/$name"
  fill "$here/dispatch-server.toml.in" NAME="$name" OTHER="server$((3 - i))" DIR="$dir" \
    TELEMETRY_PORT="${!tel}" \
    OPERATOR_PORT="${!op}" METRICS_PORT="${!met}" PG_PORT_1="$PG_PORT_1" PG_PORT_2="$PG_PORT_2" \
    >"$dir/$name/dispatch-server.toml"
  "$build/dispatch-server/dispatch-server" --config "$dir/$name/dispatch-server.toml" \
    >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/server$i.pid"
  wait_for "$name's metrics port" 60 curl -fsS --max-time 1 "http://127.0.0.1:${!met}/healthz"
}

cmd_start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ -x $build/dispatch-server/dispatch-server ]] ||
    die "no $build/dispatch-server/dispatch-server: cmake --build --preset ci --target dispatch-server fleet_load"
  command -v patroni >/dev/null && command -v etcd >/dev/null ||
    die "patroni or etcd missing: run deploy/install-deps.sh"
  if [[ ! -f $dir/ports.env ]]; then
    {
      for i in 1 2 3; do
        echo "ETCD_CLIENT_$i=$(free_port)"
        echo "ETCD_PEER_$i=$(free_port)"
      done
      for i in 1 2; do
        echo "PG_PORT_$i=$(free_port)"
        echo "REST_PORT_$i=$(free_port)"
        echo "TELEMETRY_PORT_$i=$(free_port)"
        echo "OPERATOR_PORT_$i=$(free_port)"
        echo "METRICS_PORT_$i=$(free_port)"
      done
    } >"$dir/ports.env"
  fi
  load_ports
  [[ -f $dir/certs/ca.key ]] || bash "$repo/deploy/make-certs.sh" "$dir/certs" >"$dir/certs.log" 2>&1
  make_checkpoint_keys
  [[ $(id -u) -eq 0 ]] && chmod 755 "$dir"
  start_etcd
  start_patroni 1
  wait_for "node1 to become primary" 120 rest "$REST_PORT_1" primary
  start_patroni 2
  wait_for "node2 to stream as synchronous standby" 180 sync_standby_ready
  psql -h 127.0.0.1 -p "$PG_PORT_1" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'citwatch'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$PG_PORT_1" -U postgres -d postgres -qc "CREATE DATABASE citwatch"
  start_server 1
  start_server 2
  echo "ha.sh: started in $dir (primary $(primary)); telemetry 127.0.0.1:$TELEMETRY_PORT_1 and 127.0.0.1:$TELEMETRY_PORT_2"
}

sync_standby_ready() {
  local p
  p=$(primary) || return 1
  local port_var=PG_PORT_${p#node}
  psql -h 127.0.0.1 -p "${!port_var}" -U postgres -d postgres -tAc \
    "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'" |
    grep -qx 1
}

cmd_status() {
  load_ports
  local p
  p=$(primary) || p="none"
  echo "primary: $p"
  local i
  for i in 1 2; do
    local rest_var=REST_PORT_$i
    printf 'node%s: patroni %s, ' "$i" "$(pid_alive "$dir/patroni$i.pid" && echo up || echo down)"
    rest "${!rest_var}" patroni 2>/dev/null |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("role"), d.get("state"), "timeline", d.get("timeline"))' ||
      echo "no answer"
  done
  if [[ $p != none ]]; then
    local port_var=PG_PORT_${p#node}
    psql -h 127.0.0.1 -p "${!port_var}" -U postgres -d postgres -tAc \
      "SELECT 'replica ' || application_name || ': ' || state || ', ' || sync_state FROM pg_stat_replication"
  fi
  for i in 1 2 3; do
    printf 'etcd%s: %s\n' "$i" "$(pid_alive "$dir/etcd$i.pid" && echo up || echo down)"
  done
  for i in 1 2; do
    printf 'server%s: %s\n' "$i" "$(pid_alive "$dir/server$i.pid" && echo up || echo down)"
  done
}

stop_pidfile() {  # stop_pidfile FILE: TERM, then KILL after 30 s
  local f=$1
  [[ -f $f ]] || return 0
  local pid
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local start=$SECONDS
    while kill -0 "$pid" 2>/dev/null && ((SECONDS - start < 30)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_node_postgres() {  # a PostgreSQL left running by a killed Patroni
  local data=$dir/node$1/data
  if [[ -f $data/postmaster.pid ]]; then
    local pid
    pid=$(head -1 "$data/postmaster.pid")
    kill -0 "$pid" 2>/dev/null && as_pg "$pgbin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}

cmd_stop() {
  [[ -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd)
  local i
  for i in 1 2; do stop_pidfile "$dir/server$i.pid"; done
  for i in 1 2; do
    stop_pidfile "$dir/patroni$i.pid"  # Patroni stops its PostgreSQL on TERM
    stop_node_postgres "$i"            # unless it was killed
  done
  for i in 1 2 3; do stop_pidfile "$dir/etcd$i.pid"; done
  echo "ha.sh: stopped everything in $dir"
}

# Kills the primary's node the hard way: Patroni and its PostgreSQL postmaster, kill -9.
kill_primary() {
  local p=$1
  local i=${p#node}
  local postmaster
  postmaster=$(head -1 "$dir/$p/data/postmaster.pid")
  kill -KILL "$(cat "$dir/patroni$i.pid")" "$postmaster"
}

cmd_failover_test() {
  local vehicles=${HA_VEHICLES:-200} duration=${HA_DURATION_S:-40} kill_after=${HA_KILL_AFTER_S:-10}
  trap 'cmd_stop' EXIT
  cmd_start
  load_ports
  local out=$dir/fleet_load.out
  "$build/bench/fleet_load" --certs "$dir/certs" \
    --target "localhost:$TELEMETRY_PORT_1,localhost:$TELEMETRY_PORT_2" --vehicles "$vehicles" \
    --duration-s "$duration" --warmup-s 5 --batch 50 --window 400 --reconnect \
    --acked-out "$dir/acked.txt" >"$out" 2>"$dir/fleet_load.log" &
  local load_pid=$!
  wait_for "fleet_load to start measuring" 180 grep -q "t=1 s" "$dir/fleet_load.log"
  sleep "$kill_after"  # load runs; the kill lands mid-measurement
  local old
  old=$(primary) || die "no primary before the kill"
  local t_kill=$EPOCHREALTIME
  kill_primary "$old"
  echo "ha.sh: killed $old (Patroni and PostgreSQL, kill -9) at load t=${kill_after} s"
  local new=""
  until new=$(primary) && [[ $new != "$old" ]]; do sleep 0.1; done
  local t_promoted=$EPOCHREALTIME
  echo "ha.sh: $new promoted $(python3 -c "print(f'{$t_promoted - $t_kill:.1f}')") s after the kill"
  if [[ ${HA_STRICT:-0} == 1 ]]; then
    start_patroni "${old#node}"  # strict mode writes only with a standby: bring it back
  fi
  wait "$load_pid" || true
  cat "$out"
  # Every acknowledged record must be on the new primary: per vehicle, the stored seqs must
  # cover 1..acked (seqs are contiguous; the primary key forbids duplicates).
  local port_var=PG_PORT_${new#node}
  psql -h 127.0.0.1 -p "${!port_var}" -U postgres -d citwatch -tA -F ' ' -c \
    "SELECT vehicle_id, count(*), max(seq) FROM records GROUP BY vehicle_id" >"$dir/stored.txt"
  local verdict
  verdict=$(python3 - "$dir/acked.txt" "$dir/stored.txt" <<'PY'
import sys
acked = {v: int(n) for v, n in (l.split() for l in open(sys.argv[1]) if l.strip())}
stored = {}
for l in open(sys.argv[2]):
    if l.strip():
        v, count, top = l.split()
        stored[v] = (int(count), int(top))
lost = 0
for v, a in acked.items():
    count, top = stored.get(v, (0, 0))
    if count != top or count < a:
        lost += max(0, a - count) or 1
print(f"acked_records={sum(acked.values())} stored_records={sum(c for c, _ in stored.values())} "
      f"vehicles={len(acked)} lost_acked_records={lost}")
PY
)
  echo "ha.sh: $verdict"
  [[ $verdict == *"lost_acked_records=0"* ]] && grep -q "lost_acked_records=0" "$out"
}

[[ $# -ge 2 ]] || die "usage: ha.sh start|status|stop|failover-test DIR [BUILD]"
command=$1
dir=$2
build=$(cd "${3:-$repo/build/ci}" 2>/dev/null && pwd || echo "${3:-$repo/build/ci}")
strict=false
[[ ${HA_STRICT:-0} == 1 ]] && strict=true
case $command in
  start) cmd_start ;;
  status) dir=$(cd "$dir" && pwd) && cmd_status ;;
  stop) cmd_stop ;;
  failover-test) mkdir -p "$dir" && dir=$(cd "$dir" && pwd) && cmd_failover_test ;;
  *) die "unknown command $command (start, status, stop, failover-test)" ;;
esac
