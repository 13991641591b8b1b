#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: packages, configure, build, format
# check, ctest, then the libFuzzer targets (a separate clang build, each target fuzzes for a
# bounded time; docs/fuzzing.md). This is the README's second command and what .ci/run calls.
# Each step's wall time is printed at the end (CI must stay under 30 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

timings=()
step() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  timings+=("$(printf '%5d s  %s' $((SECONDS - start)) "$name")")
}
report() {
  echo "test.sh: wall time per step ($(nproc) cores):"
  printf '  %s\n' "${timings[@]}"
  echo "  $SECONDS s in all"
}
trap report EXIT

step "install packages" bash deploy/install-deps.sh
step "configure" cmake --preset ci
step "build" cmake --build --preset ci -j "$(nproc)"
step "format check" bash deploy/check-format.sh
step "ctest" ctest --preset ci -j "$(nproc)"
step "configure fuzz" cmake --preset fuzz
step "build fuzz" cmake --build --preset fuzz -j "$(nproc)"
step "fuzz" ctest --preset fuzz -j "$(nproc)"
