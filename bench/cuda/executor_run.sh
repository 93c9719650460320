#!/usr/bin/env bash
# The CUDA executor's whole GPU check in ONE call on a lent GPU, within a time budget (default
# 480 s, EXECUTOR_RUN_BUDGET_S): the kernel and executor GPU tests, then executor_bench on
# Llama-3.1-8B, then compute-sanitizer memcheck and racecheck on the new kernels (short filters)
# with the time that is left. Each step's timeout is cut to the budget left, so the call ends in
# time even when something hangs. Everything is written under OUT_DIR; a summary is printed.
#
# usage (from the repository root): bench/cuda/executor_run.sh OUT_DIR [BIN_DIR]
#   BIN_DIR (default: build) holds tests/*_test and bench/executor_bench of a CUDA build
#   (cmake -DFLOWKV_CUDA=ON), or the folder bench/cuda/pack_bin.sh made from one.
#
# Files: env.txt, tests.log, bench.log, executor-bench.json, sanitizer.log, summary.txt.
set -u
out=${1:?usage: bench/cuda/executor_run.sh OUT_DIR [BIN_DIR]}
bin=${2:-build}
budget=${EXECUTOR_RUN_BUDGET_S:-480}
mkdir -p "$out"
export NCCL_NVLS_ENABLE=0  # NVLink multicast stays off (see the device notes)
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }
# Seconds for a step: its cap, or what is left of the budget (at least 1).
step_timeout() {
  local left=$(( budget - ($(date +%s) - start) ))
  local t=$(( $1 < left ? $1 : left ))
  echo $(( t > 1 ? t : 1 ))
}

# cuBLASLt is linked dynamically (the binaries' RUNPATH names the build machine's CUDA folder):
# point the loader at this machine's libcublasLt.so.13 if it does not find one by itself.
if ! ldd "$bin/tests/gemm_test" 2>/dev/null | grep -q "libcublasLt.so.13 => /"; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
           $(dirname "$(find /usr /opt -name libcublasLt.so.13 2>/dev/null | head -n 1)" 2>/dev/null); do
    if [ -e "$d/libcublasLt.so.13" ]; then
      export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      break
    fi
  done
fi
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
{
  echo "cuBLASLt: $(ldd "$bin/tests/gemm_test" 2>/dev/null | grep cublasLt)"
  echo "compute-sanitizer: $sanitizer"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem \
    --format=csv 2>&1
} >"$out/env.txt"

tests=(iteration_plan elementwise_ops rope_kv gemm attention cuda_executor live_cuda_proof)
{
  for t in "${tests[@]}"; do
    stamp "=== ${t}_test"
    timeout "$(step_timeout 120)" "$bin/tests/${t}_test" --gtest_brief=1 2>&1 | tail -n 60
    echo "exit ${PIPESTATUS[0]}"
  done
} >"$out/tests.log" 2>&1

{
  stamp "=== executor_bench"
  timeout "$(step_timeout 240)" "$bin/bench/executor_bench" \
    --model scenarios/models/llama-3.1-8b.json --policies fixed:4096,fixed:256,heuristic \
    --json "$out/executor-bench.json"
  echo "exit $?"
  stamp "done"
} >"$out/bench.log" 2>&1

# Sanitizers: short filters, each new kernel at least once.
memcheck=(
  "attention_test:Attention.PrefillChunkedAndDecodeMatchReference"
  "cuda_executor_test:CudaExecutor.LogitsMatchHostReference:CudaExecutor.PoisonedPoolChangesTokensUntilRewritten"
  "elementwise_ops_test:*"
  "rope_kv_test:*"
  "gemm_test:Gemm.FixedAlgorithmIsBatchInvariant"
)
racecheck=(
  "attention_test:Attention.PrefillChunkedAndDecodeMatchReference"
  "elementwise_ops_test:ElementwiseOps.RmsNorm*:ElementwiseOps.Argmax*"
)
run_sanitizer() {
  local tool=$1 entry=$2
  local t=${entry%%:*} filter=${entry#*:}
  stamp "=== $tool $t ($filter)"
  timeout "$(step_timeout 90)" "$sanitizer" --tool "$tool" --error-exitcode 9 "$bin/tests/$t" \
    --gtest_brief=1 --gtest_filter="$filter" 2>&1 | tail -n 12
  echo "exit ${PIPESTATUS[0]} (124: out of time)"
}
{
  for e in "${memcheck[@]}"; do run_sanitizer memcheck "$e"; done
  for e in "${racecheck[@]}"; do run_sanitizer racecheck "$e"; done
  stamp "done"
} >"$out/sanitizer.log" 2>&1

{
  cat "$out/env.txt"
  echo "--- tests"
  grep -E "^\[.*\] === |^exit|PASSED|FAILED|SKIPPED" "$out/tests.log"
  echo "--- bench"
  cat "$out/bench.log"
  echo "--- sanitizers"
  grep -E "^\[.*\] === |^exit|ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer.log"
} | tee "$out/summary.txt"
