#!/usr/bin/env bash
# One call's worth of work on a lent GPU: the GPU tests, `flowkv bench-transfer` (copy transport
# for Llama-3.1-8B (empty pools and pools at occupancy 0.5 and 0.9) and -70B, and the NCCL path
# as a 1-rank loopback), then compute-sanitizer
# memcheck and racecheck over the kernels. Everything is logged under OUT_DIR.
#
# usage: bench/cuda/device_run.sh BIN_DIR OUT_DIR [DEVICE_TAG]
#   BIN_DIR holds flowkv and tests/*_test, built elsewhere with -DFLOWKV_CUDA=ON (see docs/gpu.md)
set -u
bin=$1
out=$2
tag=${3:-h100}
export NCCL_NVLS_ENABLE=0  # NVLink multicast stays off (see the device notes)
# The binaries look up scenarios/models under the source folder they were built from.
for src in /work/main; do
  [ -e "$src" ] || { mkdir -p "$(dirname "$src")" && ln -s "$PWD" "$src"; }
done
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem,temperature.gpu \
    --format=csv 2>&1
  for t in "$bin"/tests/*_test; do
    echo "=== $(basename "$t")"
    timeout 300 "$t" --gtest_brief=1 2>&1 | tail -n 25
    echo "exit ${PIPESTATUS[0]}"
  done
} >"$out/tests.log" 2>&1
grep -E "^=== |^exit|PASSED|FAILED" "$out/tests.log"

{
  echo "=== copy, llama-3.1-8b"
  timeout 300 "$bin"/flowkv bench-transfer --model llama-3.1-8b --tokens 500,1000,4000,8000,10000 \
    --transport copy --occupancy 0.5 --seed 1 --repeats 10 --json "$out/bench-transfer-$tag.json"
  echo "exit $?"
  echo "=== copy, llama-3.1-8b, fragmented pools at occupancy 0.9"
  timeout 300 "$bin"/flowkv bench-transfer --model llama-3.1-8b --tokens 500,1000,4000,8000,10000 \
    --transport copy --occupancy 0.9 --seed 1 --repeats 10 --json "$out/bench-transfer-$tag-occupancy-0.9.json"
  echo "exit $?"
  echo "=== copy, llama-3.1-70b"
  timeout 300 "$bin"/flowkv bench-transfer --model llama-3.1-70b --tokens 500,1000,4000,8000,10000 \
    --transport copy --occupancy 0.5 --seed 1 --repeats 5 --json "$out/bench-transfer-$tag-llama-3.1-70b.json"
  echo "exit $?"
  echo "=== nccl loopback (1 rank), llama-3.1-8b"
  WORLD_SIZE=1 RANK=0 timeout 300 "$bin"/flowkv bench-transfer --model llama-3.1-8b \
    --tokens 500,1000,4000,8000,10000 --transport nccl --repeats 5 --timeout-s 60 \
    --json "$out/bench-transfer-$tag-nccl-loopback.json"
  echo "exit $?"
} >"$out/bench.log" 2>&1

{
  for tool in memcheck racecheck; do
    for t in segment_copy_test layout_copy_test pattern_test device_copy_transport_test; do
      echo "=== $tool $t"
      timeout 300 compute-sanitizer --tool "$tool" --error-exitcode 9 "$bin/tests/$t" --gtest_brief=1 2>&1 | tail -n 6
      echo "exit ${PIPESTATUS[0]}"
    done
    echo "=== $tool flowkv bench-transfer (small)"
    timeout 300 compute-sanitizer --tool "$tool" --error-exitcode 9 "$bin"/flowkv bench-transfer \
      --tokens 500,1000 --repeats 1 --warmup 0 2>&1 | tail -n 14
    echo "exit ${PIPESTATUS[0]}"
  done
} >"$out/sanitizer.log" 2>&1
grep -E "^=== |^exit|ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer.log"
cat "$out/bench.log" | grep -v "^  [0-9]* tokens"
