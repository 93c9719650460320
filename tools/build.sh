#!/usr/bin/env bash
# Configures and builds FlowKV into build/ (or $FLOWKV_BUILD_DIR), with Ninja and all cores.
# Extra arguments go to CMake's configure step, e.g. -DFLOWKV_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${FLOWKV_BUILD_DIR:-build}
if [ ! -f "$dir/CMakeCache.txt" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
