#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs each one for a
# bounded time, seeded with fuzz/corpus/<target>/ and fuzz/regressions/<target>/.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 60 s, every target)
#
# Installs clang and libFuzzer's runtime from Debian first if they are missing. Runs
# $FLOWKV_FUZZ_JOBS targets at a time (default: the number of cores). New corpus entries go to
# build-fuzz/corpus/<target>/ (the seed folders in the repository are never written); a crash is
# saved as build-fuzz/artifacts/<target>/crash-* and makes the script exit 1 after printing the
# tail of its log. Fix the parser, then keep the input as
# fuzz/regressions/<target>/rejected-<what>.<ext> (docs/bad_input.md, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
jobs=${FLOWKV_FUZZ_JOBS:-$(nproc)}
dir=${FLOWKV_FUZZ_BUILD_DIR:-build-fuzz}

tools/setup.sh clang libclang-rt-14-dev

if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DFLOWKV_CUDA=OFF -DFLOWKV_CLI=OFF -DFLOWKV_TESTS=OFF \
    -DFLOWKV_BENCH=OFF -DFLOWKV_FUZZ=ON >/dev/null
fi
echo "fuzz: building the targets in $dir"
if ! cmake --build "$dir" -j "$(nproc)" --target flowkv_fuzzers >"$dir/fuzz-build.log" 2>&1; then
  tail -n 40 "$dir/fuzz-build.log"
  echo "fuzz: the build failed (log: $dir/fuzz-build.log)"
  exit 1
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for exe in "$dir"/fuzz/fuzz_*; do targets+=("$(basename "$exe" | sed 's/^fuzz_//')"); done
fi

mkdir -p "$dir/logs"
rm -f "$dir"/logs/*.failed
run_one() {
  local t=$1
  local corpus="$dir/corpus/$t" artifacts="$dir/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts" fuzz/corpus/"$t"
  local seeds=(fuzz/corpus/"$t")
  [ -d fuzz/regressions/"$t" ] && seeds+=(fuzz/regressions/"$t")
  # -timeout: one input may take at most 10 s (a hang is a bug); -rss_limit_mb also bounds any
  # single allocation; -use_value_profile helps past comparisons against header names.
  if "$dir/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$artifacts" \
       "$corpus" "${seeds[@]}" >"$dir/logs/$t.log" 2>&1; then
    echo "fuzz: $t: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/logs/$t.log" | grep -o '[0-9]*$') runs in ${seconds} s)"
  else
    echo "fuzz: $t: FAILED, log $dir/logs/$t.log:"
    tail -n 40 "$dir/logs/$t.log" | sed 's/^/    /'
    ls "$artifacts" | sed "s|^|    saved input: $artifacts|"
    touch "$dir/logs/$t.failed"
  fi
}

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, $jobs at a time"
for t in "${targets[@]}"; do
  if [ ! -x "$dir/fuzz/fuzz_$t" ]; then
    echo "fuzz: no target '$t' (built: $(ls "$dir"/fuzz | grep '^fuzz_' | sed 's/^fuzz_//' | tr '\n' ' '))"
    exit 2
  fi
  run_one "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait
failed=""
for f in "$dir"/logs/*.failed; do  # (no match: the pattern itself, which does not exist)
  if [ -e "$f" ]; then failed+="$(basename "$f" .failed) "; fi
done
if [ -n "$failed" ]; then
  echo "fuzz: bugs found by: $failed(see above)"
  exit 1
fi
echo "fuzz: no crash in any target"
