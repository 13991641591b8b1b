# Sourced by bench/agent_*.sh: dispatch-server arguments for a benchmark run (real server, mTLS
# telemetry on loopback, SQLite in the work dir, operator and metrics ports on free ports).
# server_args WORK_DIR TELEMETRY_PORT
server_args() {
  local work=$1 port=$2 op metrics
  op=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  metrics=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  echo "--telemetry-listen 127.0.0.1:$port --operator-listen 127.0.0.1:$op" \
    "--metrics-listen 127.0.0.1:$metrics --http-listen 127.0.0.1:0 --database $work/dispatch.db" \
    "--tls-ca $work/certs/ca.crt --tls-cert $work/certs/server.crt" \
    "--tls-key $work/certs/server.key --log-level warn"
}
