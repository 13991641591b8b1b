#!/usr/bin/env bash
# The Patroni failover test (issue 15 §4), on its own: in a fresh temp directory, starts the HA
# recipe (deploy/ha/ha.sh), drives fleet_load against both dispatch-servers, kill -9s the
# primary's Patroni and PostgreSQL under load, and checks that every acknowledged record is on
# the new primary; prints the commit pause; stops everything. ~2-3 minutes on 2 cores.
#   deploy/ha/failover-test.sh [BUILD]      (BUILD: build/ci; needs dispatch-server, fleet_load)
# Also registered as the ctest `ha.failover_test` with label `long`, which the `ci` test preset
# excludes: run it with `ctest --preset long`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build/ci}
dir=$(mktemp -d "${TMPDIR:-/tmp}/citwatch-ha-XXXXXX")
if bash "$here/ha.sh" failover-test "$dir" "$build"; then
  rm -rf "$dir"
  echo "failover-test: passed"
else
  echo "failover-test: FAILED; logs kept in $dir" >&2
  exit 1
fi
