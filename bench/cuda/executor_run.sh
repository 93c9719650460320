#!/usr/bin/env bash
# The CUDA executor's whole GPU check in ONE call on a lent GPU (about 5-8 minutes): the kernel and
# executor GPU tests, compute-sanitizer memcheck and racecheck on the new kernels (short filters),
# then executor_bench on Llama-3.1-8B. Everything is written under OUT_DIR; a summary is printed.
#
# usage (from the repository root): bench/cuda/executor_run.sh OUT_DIR [BIN_DIR]
#   BIN_DIR (default: build) holds tests/*_test and bench/executor_bench of a CUDA build
#   (cmake -DFLOWKV_CUDA=ON), or the folder bench/cuda/pack_bin.sh made from one.
#
# Files: env.txt, tests.log, sanitizer.log, bench.log, executor-bench.json, summary.txt.
set -u
out=${1:?usage: bench/cuda/executor_run.sh OUT_DIR [BIN_DIR]}
bin=${2:-build}
mkdir -p "$out"
export NCCL_NVLS_ENABLE=0  # NVLink multicast stays off (see the device notes)
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }

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
echo "cuBLASLt: $(ldd "$bin/tests/gemm_test" 2>/dev/null | grep cublasLt)" >"$out/env.txt"

tests=(elementwise_ops rope_kv gemm attention iteration_plan cuda_executor)
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem \
    --format=csv 2>&1
  for t in "${tests[@]}"; do
    stamp "=== ${t}_test"
    timeout 240 "$bin/tests/${t}_test" --gtest_brief=1 2>&1 | tail -n 60
    echo "exit ${PIPESTATUS[0]}"
  done
} >"$out/tests.log" 2>&1

# Sanitizers: short filters, the kernels of each file at least once.
memcheck=(
  "elementwise_ops_test:*"
  "rope_kv_test:*"
  "attention_test:Attention.PrefillChunkedAndDecodeMatchReference"
  "gemm_test:Gemm.FixedAlgorithmIsBatchInvariant"
  "cuda_executor_test:CudaExecutor.LogitsMatchHostReference:CudaExecutor.PoisonedPoolChangesTokensUntilRewritten"
)
racecheck=(
  "elementwise_ops_test:ElementwiseOps.RmsNorm*:ElementwiseOps.Argmax*"
  "attention_test:Attention.PrefillChunkedAndDecodeMatchReference"
)
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
run_sanitizer() {
  local tool=$1 entry=$2
  local t=${entry%%:*} filter=${entry#*:}
  stamp "=== $tool $t ($filter)"
  timeout 180 "$sanitizer" --tool "$tool" --error-exitcode 9 "$bin/tests/$t" \
    --gtest_brief=1 --gtest_filter="$filter" 2>&1 | tail -n 12
  echo "exit ${PIPESTATUS[0]}"
}
{
  for e in "${memcheck[@]}"; do run_sanitizer memcheck "$e"; done
  for e in "${racecheck[@]}"; do run_sanitizer racecheck "$e"; done
} >"$out/sanitizer.log" 2>&1

{
  stamp "=== executor_bench"
  timeout 300 "$bin/bench/executor_bench" --model scenarios/models/llama-3.1-8b.json \
    --policies fixed:4096,fixed:256,heuristic --json "$out/executor-bench.json"
  echo "exit $?"
  stamp "done"
} >"$out/bench.log" 2>&1

{
  cat "$out/env.txt"
  echo "--- tests"
  grep -E "^\[.*\] === |^exit|PASSED|FAILED|SKIPPED" "$out/tests.log"
  echo "--- sanitizers"
  grep -E "^\[.*\] === |^exit|ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer.log"
  echo "--- bench"
  cat "$out/bench.log"
} | tee "$out/summary.txt"
