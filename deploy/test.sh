#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: packages, configure, build, format
# check, ctest, then the libFuzzer targets (a separate clang build, each target fuzzes for a
# bounded time; docs/fuzzing.md). This is the README's second command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
cmake --preset ci
cmake --build --preset ci -j "$(nproc)"
bash deploy/check-format.sh
ctest --preset ci -j "$(nproc)"
cmake --preset fuzz
cmake --build --preset fuzz -j "$(nproc)"
ctest --preset fuzz -j "$(nproc)"
