#!/usr/bin/env bash
# What was run on the lent H200 for the live figures (bench/results/live-h200/README.md): the
# live 1P1D runs of scenarios/live-h200.json with FlowKV's and vLLM-disagg's profiles, then the
# CUDA executor's calibration for Llama-3.1-8B. Each result lands in one archive, OUT/results.tgz,
# refreshed after every step so a step that fails or runs out of time keeps the earlier ones.
#
# usage (on the GPU machine, from the checkout, with BIN_DIR holding flowkv and, in BIN_DIR/lib, the
# Open MPI libraries it links: `ldd build/flowkv`):
#   bench/cuda/live_h200.sh OUT_DIR [BIN_DIR]
set -uo pipefail
out=${1:?usage: live_h200.sh OUT_DIR [BIN_DIR]}
bin=${2:-gpubin}
export FLOWKV_HOME=$PWD
# The binary links Open MPI (flowkv live over ranks), which the GPU machine lacks: carried beside it.
export LD_LIBRARY_PATH=$PWD/$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
work=$(mktemp -d)
pack() { tar czf "$out/results.tgz" -C "$work" .; }
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$work/device.txt"
step() {
  local name=$1; shift
  echo "== $name: $*" | tee -a "$work/commands.txt"
  "$@" 2>&1 | tee "$work/$name.log"
  pack
}
step flowkv-1p1d "$bin/flowkv" live --scenario live-h200 --device cuda --quiet --out "$work/flowkv-1p1d"
step vllm-disagg-1p1d "$bin/flowkv" live --scenario live-h200 --device cuda --quiet --policy vllm-disagg \
  --out "$work/vllm-disagg-1p1d"
step calibrate timeout 200 "$bin/flowkv" calibrate --device cuda --scenario live-h200 --layouts paged,contiguous --density 4 \
  --out "$work/profile-llama-3.1-8b-h200.json"
ls -la "$work" "$out"
