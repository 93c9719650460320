#!/usr/bin/env bash
# Packs what bench/cuda/device_run.sh and bench/cuda/executor_run.sh need into one small folder
# (default gpubin/), to carry to a lent GPU machine that has no Boost.Program_options to build the
# CLI with: the flowkv binary (when the build has one: -DFLOWKV_CLI=OFF builds none), the GPU test
# binaries and the CUDA benchmarks of a CUDA build (tools/build.sh on a machine with nvcc and
# NCCL), stripped (about 30 MB). Keep the folder out of git (.git/info/exclude).
#
# usage: bench/cuda/pack_bin.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
build=${1:-build}
out=${2:-gpubin}
tests=(cuda_check device_copy_transport kv_pool layout_copy nccl_transport pattern rendezvous
       segment_copy transfer_bench
       attention elementwise_ops gemm rope_kv iteration_plan cuda_executor live_cuda_proof live_proof)
benches=(executor_bench)
[ -x "$build/tests/segment_copy_test" ] || {
  echo "pack_bin: $build has no GPU test binaries (configure with -DFLOWKV_CUDA=ON)" >&2
  exit 2
}
rm -rf "$out"
mkdir -p "$out/tests" "$out/bench"
if [ -x "$build/flowkv" ]; then cp "$build/flowkv" "$out/"; strip "$out/flowkv"; fi
for t in "${tests[@]}"; do cp "$build/tests/${t}_test" "$out/tests/"; done
for b in "${benches[@]}"; do cp "$build/bench/$b" "$out/bench/"; done
strip "$out"/tests/* "$out"/bench/*
echo "pack_bin: $(du -sh "$out" | cut -f1) in $out/; on the GPU machine: bench/cuda/device_run.sh $out OUT_DIR TAG"
echo "  or, for the CUDA executor: bench/cuda/executor_run.sh OUT_DIR $out"
