#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: packages, configure, build, format
# check, ctest. This is the README's second command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
cmake --preset ci
cmake --build --preset ci -j "$(nproc)"
bash deploy/check-format.sh
ctest --preset ci -j "$(nproc)"
