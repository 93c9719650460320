#!/usr/bin/env bash
# The CPU fidelity benchmark (docs/calibration.md): calibrate the CPU executor for
# scenarios/live-cpu.json, run the scenario live, simulate it with the calibrated cost model at
# the live run's arrival times, and compare the two. Prints the calibrated model's held-back
# error and the fidelity table. It fails only when a command fails, never on the size of an error:
# the CI machine is shared, so measured times move from run to run.
#
#   tools/fidelity_cpu.sh [--requests N] [--density N] [--repeats N] [--point-budget-s S]
#                         [--probe-requests N] [OUT_DIR]
#
#   OUT_DIR            default results/fidelity-cpu (profile.json, live/, sim/; fidelity.json in live/)
#   --requests N       the first N requests of the scenario's trace (workload.max_requests; default
#                      the scenario's 200), for the calibration's longest context, live and simulate
#   --density, --repeats, --point-budget-s, --probe-requests
#                      passed to flowkv calibrate (its defaults: 5, 5, 1, 48); CI passes a smaller
#                      grid (.ci/run) to stay within a few minutes on 2 cores
#   FLOWKV_BIN         the flowkv binary (default build/flowkv)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${FLOWKV_BIN:-build/flowkv}
scenario=scenarios/live-cpu.json
out=results/fidelity-cpu
calib=()
sets=()
usage="usage: tools/fidelity_cpu.sh [--requests N] [--density N] [--repeats N] [--point-budget-s S] [--probe-requests N] [OUT_DIR]"
while [ $# -gt 0 ]; do
  case "$1" in
    --requests)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "fidelity_cpu: --requests: expected a positive integer" >&2; exit 2; }
      sets=(--set "workload.max_requests=$2"); shift 2 ;;
    --density|--repeats|--point-budget-s|--probe-requests)
      [ $# -ge 2 ] || { echo "fidelity_cpu: $1: expected a value" >&2; exit 2; }
      calib+=("$1" "$2"); shift 2 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    -*) echo "fidelity_cpu: unknown option $1 ($usage)" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
[ -x "$bin" ] || { echo "fidelity_cpu: $bin is not built (tools/build.sh)" >&2; exit 2; }
start=$(date +%s)
mkdir -p "$out"
rm -rf "$out/live" "$out/sim"

step() { echo "== $1 ($(( $(date +%s) - start )) s) =="; }
step "calibrate: the CPU executor over the scenario's shapes"
"$bin" calibrate --scenario "$scenario" "${sets[@]}" "${calib[@]}" --out "$out/profile.json" --quiet
step "live: $scenario on the CPU"
"$bin" live --scenario "$scenario" "${sets[@]}" --quiet --out "$out/live"
step "simulate: the same scenario with the calibrated cost model"
"$bin" simulate --scenario "$scenario" "${sets[@]}" --cost-profile "$out/profile.json" --quiet --out "$out/sim"
step "fidelity: simulated against measured"
"$bin" fidelity "$out/live" "$out/sim"
step "fidelity benchmark done"
