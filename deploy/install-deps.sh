#!/usr/bin/env bash
# Installs every Debian 12 package citwatch needs to build, test, benchmark and run its demo.
# Idempotent: apt-get skips what is already installed. Run as root (CI and dev machines are root).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates clang-format
  # the fuzz targets (cmake --preset fuzz): clang, its libFuzzer/ASan/UBSan runtimes, and
  # llvm-symbolizer for readable sanitizer stack traces
  clang-14 libclang-rt-14-dev llvm-14
  # RPC and serialisation
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # geometry and projection
  libproj-dev proj-data libboost-dev libboost-system-dev
  # GPS: libgps for the agent, gpsd + gpsfake (gpsd-clients, python3-gps) for tests and the demo
  libgps-dev gpsd gpsd-clients python3-gps
  # GPIO door/seal/panic contacts for the agent (libgpiod v1.6 API)
  libgpiod-dev
  # metrics: prometheus-cpp (pull exposer on civetweb)
  prometheus-cpp-dev libcivetweb-dev
  # storage, crypto
  libsqlite3-dev sqlite3 libssl-dev openssl
  # the dispatch-server's allocator (a third of its CPU per fix went to glibc's malloc)
  libjemalloc-dev
  # notifications: webhooks and SMTP with STARTTLS
  libcurl4-openssl-dev
  # PostgreSQL store backend (libpqxx) and the server the store tests start in a temp dir
  libpqxx-dev libpq-dev postgresql-15
  # deploy/ha/ha.sh: the HA recipe (Patroni 3.0.2 managing a PostgreSQL pair, etcd 3.4) and its
  # failover test (ctest label `long`)
  patroni etcd-server curl
  # config, logging, CLI, JSON
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev libgeos-dev libxml2-utils
  # process tools used by integration tests
  procps psmisc iproute2
  # dispatchctl in a real terminal: tmux drives it key by key, script(1) gives it a tty
  tmux bsdutils
  # web console: Node.js builds it (npm + Vite); the browser tests drive Chromium headless
  nodejs chromium fonts-dejavu-core
)
# npm: Debian's `npm` package conflicts with a `nodejs` that already bundles npm, so it is
# installed only when no `npm` command is there.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

need_install=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    need_install+=("$p")
  fi
done

if ((${#need_install[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: must run as root to install: ${need_install[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${#need_install[@]} packages: ${need_install[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need_install[@]}"
# gpsd's package enables a system socket; tests start their own gpsd on a free port.
systemctl disable --now gpsd.socket gpsd.service >/dev/null 2>&1 || true
# Likewise etcd and Patroni: deploy/ha/ha.sh starts its own on free ports in a temp directory.
systemctl disable --now etcd.service patroni.service >/dev/null 2>&1 || true
echo "install-deps: done"
