#!/usr/bin/env bash
# Fails when a tracked C++ or proto file differs from .clang-format (Google style, 100 columns).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' '*.proto' 2>/dev/null || true)
if ((${#files[@]} == 0)); then
  echo "check-format: no tracked sources"
  exit 0
fi
clang-format --dry-run -Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
